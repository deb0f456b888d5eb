"""Word lists the simulator composes names, emails, user agents and prompts from.

Everything here is plain data. Lists are large enough that two people composing a
prompt from them almost never produce the same text, and small enough to read.
Country rows give the UTC offset in minutes during the incident window (northern
summer time), a weight, and the name region and mail domains typical there.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.strip().splitlines() if line.strip())


# --- people -------------------------------------------------------------------
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "anglo": _words(
        "james mary john patricia robert jennifer michael linda david elizabeth william "
        "barbara richard susan joseph jessica thomas sarah chris karen daniel lisa matthew "
        "nancy anthony betty mark sandra paul ashley steven emily andrew kimberly josh donna "
        "kevin michelle brian carol george amanda tim melissa ryan deborah jacob laura gary "
        "rebecca nick sharon eric cynthia jonathan kathleen stephen amy larry angela justin "
        "olivia scott emma brandon ava ben sophia sam isabella owen mia liam chloe noah grace"
    ),
    "hispanic": _words(
        "jose maria juan carmen luis ana carlos laura jorge sofia miguel lucia pedro elena "
        "alejandro isabel diego paula javier marta fernando valentina pablo camila andres "
        "gabriela ricardo daniela sergio natalia raul andrea mateo ximena santiago fernanda"
    ),
    "germanic": _words(
        "lukas anna leon lea finn hannah jonas lena paul marie felix emma maximilian mia "
        "tobias laura jan sophie niklas johanna moritz clara stefan katrin jens anke dirk "
        "sven birgit lars ingrid henrik astrid erik freya"
    ),
    "romance": _words(
        "pierre camille louis chloe hugo manon lucas ines jules lea marco giulia luca chiara "
        "matteo francesca alessandro sara lorenzo martina antoine margaux julien elodie "
        "nicolas pauline giovanni alessia davide federica"
    ),
    "indian": _words(
        "aarav ananya vivaan diya aditya isha arjun saanvi rohan priya rahul neha amit pooja "
        "vikram kavya sanjay anjali karan meera rajesh lakshmi suresh divya arun shreya "
        "nikhil sneha varun riya deepak swati"
    ),
    "east_asian": _words(
        "wei fang jun mei hao ling yang xin lei yan hiroshi yuki takashi haruka kenji sakura "
        "daisuke aoi minjun jiwoo seojun hayun doyun seoyeon jihoon minji tao hua chen jing "
        "ren yu kaito hina"
    ),
    "slavic": _words(
        "ivan olga dmitri anna sergei elena alexei natalia mikhail irina piotr katarzyna "
        "tomasz agnieszka pavel marta andrei yulia nikolai svetlana jakub zofia marek ewa"
    ),
    "african": _words(
        "chinedu ngozi emeka amara tunde funmi kwame ama kofi abena oluwaseun chioma "
        "babajide adaeze thabo naledi sipho zanele musa lindiwe ifeanyi nneka yaw efua"
    ),
    "arabic": _words(
        "mohamed fatima ahmed aisha omar layla ali mariam hassan nour youssef salma khaled "
        "hana mustafa zeynep emre elif mehmet ayse burak selin can deniz"
    ),
    "southeast_asian": _words(
        "nguyen linh minh thao tuan huong duc lan budi siti agus dewi rizky putri jose "
        "maricel mark angelica somchai malee anan ploy"
    ),
}

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "anglo": _words(
        "smith johnson williams brown jones miller davis wilson anderson taylor thomas moore "
        "martin jackson thompson white harris clark lewis robinson walker young allen king "
        "wright scott green baker adams nelson hill campbell mitchell roberts carter phillips "
        "evans turner parker collins edwards stewart morris murphy cook rogers morgan cooper "
        "peterson reed bailey bell kelly howard ward cox richardson wood watson brooks bennett "
        "gray hughes price sanders myers long ross foster fletcher hayes"
    ),
    "hispanic": _words(
        "garcia rodriguez martinez hernandez lopez gonzalez perez sanchez ramirez torres "
        "flores rivera gomez diaz cruz morales reyes gutierrez ortiz ruiz alvarez castillo "
        "jimenez moreno romero vargas mendoza silva castro herrera medina aguilar vega"
    ),
    "germanic": _words(
        "muller schmidt schneider fischer weber meyer wagner becker schulz hoffmann koch "
        "richter klein wolf schroeder neumann schwarz zimmermann braun hartmann lange "
        "werner krause lehmann jansen berg lindqvist nilsson larsen hansen olsen eriksson"
    ),
    "romance": _words(
        "martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent "
        "lefebvre michel rossi russo ferrari esposito bianchi romano colombo ricci marino "
        "greco bruno gallo conti deluca costa fontana moretti"
    ),
    "indian": _words(
        "sharma verma gupta singh kumar patel shah mehta iyer nair reddy rao joshi desai "
        "kulkarni chopra malhotra kapoor bose banerjee chatterjee das pillai menon agarwal "
        "bhatt trivedi saxena mishra pandey"
    ),
    "east_asian": _words(
        "wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo lin he gao "
        "sato suzuki takahashi tanaka watanabe ito yamamoto nakamura kobayashi kato kim "
        "lee park choi jung kang cho yoon jang"
    ),
    "slavic": _words(
        "ivanov smirnov kuznetsov popov vasiliev petrov sokolov mikhailov novak kowalski "
        "nowak wisniewski wojcik kowalczyk kaminski lewandowski zielinski szymanski "
        "horvat dvorak novotny svoboda kovalenko shevchenko bondarenko"
    ),
    "african": _words(
        "okafor okeke adeyemi olawale mensah boateng asante owusu nkosi dlamini ndlovu "
        "mokoena khumalo mahlangu eze nwosu obi adebayo balogun kariuki mwangi otieno"
    ),
    "arabic": _words(
        "hassan hussein ali ibrahim mahmoud abdullah saleh khalil haddad nasser mansour "
        "yilmaz kaya demir sahin celik yildiz aydin ozturk arslan dogan kilic"
    ),
    "southeast_asian": _words(
        "nguyen tran le pham hoang phan vu dang bui do santos reyes cruz bautista "
        "santoso wijaya pratama saputra hidayat lim tan wong"
    ),
}

NICKNAMES = _words(
    "shadow pixel ninja coder dreamer wanderer sunny rocket tiger falcon maple river ocean "
    "storm blue red green star moon nova echo ghost lucky happy crazy cool silent wild "
    "cosmic turbo neon frost ember atlas orbit zen bear wolf fox owl panda koala otter "
    "gamer reader writer chef runner hiker artist nerd geek boss king queen prince "
    "captain doctor prof mister little big old young tiny mega ultra super hyper"
)

# Country → (UTC offsets in minutes, weight, name region, extra mail domains).
COUNTRIES: dict[str, tuple[tuple[int, ...], float, str, tuple[str, ...]]] = {
    "US": ((-240, -300, -360, -420), 0.26, "anglo", ("comcast.net", "att.net", "verizon.net")),
    "GB": ((60,), 0.06, "anglo", ("btinternet.com", "sky.com")),
    "CA": ((-240, -300, -420), 0.03, "anglo", ("rogers.com", "shaw.ca")),
    "AU": ((600, 480), 0.02, "anglo", ("bigpond.com", "optusnet.com.au")),
    "DE": ((120,), 0.05, "germanic", ("gmx.de", "web.de", "t-online.de")),
    "NL": ((120,), 0.02, "germanic", ("ziggo.nl", "kpnmail.nl")),
    "SE": ((120,), 0.01, "germanic", ("telia.com",)),
    "FR": ((120,), 0.04, "romance", ("orange.fr", "free.fr", "laposte.net")),
    "IT": ((120,), 0.03, "romance", ("libero.it", "virgilio.it")),
    "ES": ((120,), 0.03, "hispanic", ("telefonica.net",)),
    "MX": ((-360,), 0.03, "hispanic", ("prodigy.net.mx",)),
    "BR": ((-180,), 0.05, "hispanic", ("uol.com.br", "bol.com.br")),
    "AR": ((-180,), 0.01, "hispanic", ("fibertel.com.ar",)),
    "IN": ((330,), 0.10, "indian", ("rediffmail.com",)),
    "JP": ((540,), 0.04, "east_asian", ("yahoo.co.jp", "docomo.ne.jp")),
    "KR": ((540,), 0.03, "east_asian", ("naver.com", "daum.net")),
    "SG": ((480,), 0.01, "east_asian", ("singnet.com.sg",)),
    "PL": ((120,), 0.02, "slavic", ("wp.pl", "onet.pl")),
    "UA": ((180,), 0.01, "slavic", ("ukr.net",)),
    "NG": ((60,), 0.02, "african", ()),
    "ZA": ((120,), 0.01, "african", ("telkomsa.net",)),
    "KE": ((180,), 0.01, "african", ()),
    "TR": ((180,), 0.02, "arabic", ()),
    "EG": ((180,), 0.01, "arabic", ()),
    "AE": ((240,), 0.01, "arabic", ()),
    "VN": ((420,), 0.02, "southeast_asian", ()),
    "ID": ((420,), 0.03, "southeast_asian", ()),
    "PH": ((480,), 0.02, "southeast_asian", ()),
}

FREE_MAIL = ("gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "proton.me")
FREE_MAIL_WEIGHTS = (0.52, 0.14, 0.08, 0.10, 0.11, 0.05)

# --- companies ----------------------------------------------------------------
COMPANY_WORDS = _words(
    "acme apex blue bright cedar cloud coast core crest delta ember evergreen falcon "
    "fjord forge granite harbor helix horizon iron juniper keystone lumen maple meridian "
    "nimbus north oak orbit peak pine pioneer prism quantum quarry redwood ridge river "
    "sage silver sky spark stone summit terra tidal vertex vista willow zenith"
)
COMPANY_SUFFIXES = _words(
    "labs works systems group analytics health logistics capital media studio tech "
    "solutions partners consulting foods energy robotics data bio legal"
)
CORPORATE_TLDS = ("com", "com", "com", "io", "co", "net", "de", "co.uk", "ai", "org")
SERVICE_MAILBOXES = _words(
    "svc-batch etl-bot ml-pipeline api-prod data-jobs automation integrations "
    "nightly-runner classifier-svc doc-ingest support-bot"
)

# --- software -----------------------------------------------------------------
MODELS = ("orca-lite", "orca-standard", "orca-pro", "orca-reasoning", "orca-code")

BROWSERS = _lines(
    """
    Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36
    Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36
    Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36
    Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0
    Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.4 Safari/605.1.15
    Mozilla/5.0 (iPhone; CPU iPhone OS 18_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.{v} Mobile/15E148 Safari/604.1
    Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36
    Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36
    Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0
    OrcaApp/3.{v} (iPhone; iOS 18.4; Scale/3.00)
    OrcaApp/3.{v} (Android 15; SM-A556B)
    """
)
BROWSER_VERSIONS = tuple(range(128, 142))
SDKS = _lines(
    """
    orca-python/1.{v}.0
    orca-python/1.{v}.2 (async)
    orca-node/4.{v}.1
    orca-go/0.{v}.0
    orca-java/2.{v}.0
    langchain-orca/0.{v}.3
    """
)
SDK_VERSIONS = tuple(range(20, 48))
SCRIPT_AGENTS = (
    "python-requests/2.32.3",
    "python-requests/2.31.0",
    "python-httpx/0.27.2",
    "python-httpx/0.28.1",
    "aiohttp/3.10.5",
    "curl/8.5.0",
    "curl/7.81.0",
    "Go-http-client/2.0",
    "axios/1.7.7",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "okhttp/4.12.0",
)

# --- prompts: ordinary chat -----------------------------------------------------
OPENERS = (
    "",
    "",
    "",
    "",
    "",
    "",
    "hey, ",
    "hi! ",
    "please ",
    "can you ",
    "could you ",
    "quick question: ",
    "ok so ",
    "help me ",
    "I need to ",
    "i want to ",
    "hello, ",
    "Hi there. ",
    "pls ",
    "yo ",
    "Good morning! ",
    "Question - ",
    "so basically ",
    "real quick, ",
)
CLOSERS = (
    "",
    "",
    "",
    "",
    "",
    "",
    "?",
    ".",
    " thanks",
    " thank you!",
    " pls",
    " :)",
    " asap",
    " in simple words",
    " keep it short",
    " with examples",
    " step by step",
    " (be concise)",
    " no jargon please",
    " thx",
)
_TOPIC_WORDS = _words(
    "photosynthesis inflation blockchain gravity vaccines democracy recursion entropy "
    "mortgages taxes climate volcanoes dinosaurs the_roman_empire black_holes dna "
    "quantum_computing interest_rates the_french_revolution electricity tides rainbows "
    "jet_lag sleep caffeine meditation compound_interest index_funds the_immune_system "
    "plate_tectonics the_internet encryption machine_learning neural_networks evolution "
    "supply_and_demand the_cold_war ancient_egypt the_moon_landing solar_panels "
    "electric_cars nuclear_fusion antibiotics allergies migraines the_stock_market "
    "credit_scores the_silk_road greek_mythology impressionism jazz the_renaissance "
    "volcanic_winter ocean_currents the_water_cycle batteries 3d_printing wifi gps "
    "bitcoin the_placebo_effect cognitive_biases stoicism utilitarianism game_theory"
)
TOPICS = tuple(t.replace("_", " ") for t in _TOPIC_WORDS)
THINGS = tuple(
    t.replace("_", " ")
    for t in _words(
        "birthday_card wedding_toast resignation_letter thank-you_note product_description "
        "instagram_caption linkedin_post cover_letter complaint_email apology_message "
        "poem short_story limerick haiku speech blog_post newsletter press_release "
        "job_description meal_plan workout_plan study_schedule travel_itinerary "
        "budget_spreadsheet shopping_list packing_list grocery_list bedtime_story "
        "eulogy toast song_lyrics rap_verse riddle joke tweet essay_outline book_review "
        "movie_review restaurant_review reference_letter rental_application "
        "sales_pitch elevator_pitch mission_statement slogan tagline dating_profile_bio "
        "team_update meeting_agenda meeting_summary performance_review project_proposal "
        "grant_application cold_email follow-up_email out-of-office_reply"
    )
)
PEOPLE = tuple(
    p.replace("_", " ")
    for p in _words(
        "my_mom my_dad my_boss my_landlord my_sister my_brother my_best_friend my_wife "
        "my_husband my_girlfriend my_boyfriend my_teacher my_professor my_coworker "
        "my_neighbour my_grandma my_grandpa my_team my_students my_customers a_client "
        "a_recruiter the_hiring_manager my_son my_daughter my_kids my_roommate my_doctor "
        "my_book_club my_soccer_team the_hoa my_manager my_mentor my_ex"
    )
)
PLACES = tuple(
    p.replace("_", " ")
    for p in _words(
        "lisbon tokyo kyoto paris rome barcelona new_york chicago austin mexico_city "
        "bangkok bali seoul berlin prague vienna budapest amsterdam dublin edinburgh "
        "reykjavik cape_town nairobi marrakech istanbul dubai mumbai goa singapore "
        "sydney melbourne auckland vancouver montreal lima cusco buenos_aires rio "
        "the_alps yosemite the_grand_canyon iceland scotland tuscany provence"
    )
)
AUDIENCES = tuple(
    a.replace("_", " ")
    for a in _words(
        "a_five_year_old a_teenager a_beginner an_expert my_grandma a_college_student "
        "a_ceo a_software_engineer a_nurse a_farmer a_lawyer a_ten_year_old an_investor "
        "a_non-native_speaker a_high_school_class"
    )
)
TONES = _words(
    "funny formal casual heartfelt professional sarcastic friendly persuasive polite "
    "firm enthusiastic warm concise poetic dramatic"
)
JOBS = tuple(
    j.replace("_", " ")
    for j in _words(
        "software_engineer nurse teacher barista data_analyst product_manager accountant "
        "graphic_designer marketing_coordinator sales_associate project_manager "
        "customer_service_representative electrician pharmacist ux_designer "
        "warehouse_associate paralegal receptionist chef social_media_manager "
        "mechanical_engineer research_assistant dental_hygienist hr_generalist"
    )
)
FOODS = tuple(
    f.replace("_", " ")
    for f in _words(
        "chicken_thighs chickpeas tofu salmon ground_beef lentils eggs pasta rice "
        "sweet_potatoes broccoli spinach mushrooms zucchini leftover_rice black_beans "
        "shrimp quinoa oats bananas avocado cauliflower paneer halloumi"
    )
)
CHAT_FRAMES = _lines(
    """
    explain {TOPIC} to {AUDIENCE}
    what is {TOPIC} and why does it matter
    can you summarize the history of {TOPIC}
    give me {K} fun facts about {TOPIC}
    write a {TONE} {THING} for {PEOPLE}
    help me write a {THING} to {PEOPLE}, make it {TONE}
    draft a {TONE} {THING} about {TOPIC}
    write a {THING} for a {JOB} job
    plan a {K} day trip to {PLACES} on a budget
    what are the best things to do in {PLACES} with {PEOPLE}
    is {PLACES} worth visiting in june
    what can I cook with {FOOD} and {FOOD}
    give me a {K} minute recipe using {FOOD}
    make a weekly meal plan with {FOOD}, {FOOD} and {FOOD}
    how do I tell {PEOPLE} that I need space
    {PEOPLE} keeps ignoring my messages, what should I do
    how should I respond to {PEOPLE} who said my {THING} was bad
    compare {TOPIC} and {TOPIC}
    what are the pros and cons of {TOPIC}
    rewrite this {THING} to sound more {TONE}: {FRAGMENT}
    proofread: {FRAGMENT}
    translate to spanish: {FRAGMENT}
    translate this into french please: {FRAGMENT}
    make this shorter: {FRAGMENT}
    is this grammatically correct? {FRAGMENT}
    I'm preparing for a {JOB} interview, what questions should I expect
    how do I negotiate salary as a {JOB}
    create a {K} week study plan for {TOPIC}
    quiz me on {TOPIC} with {K} questions
    what books should I read about {TOPIC}
    write a {TONE} poem about {TOPIC}
    tell me a story about {PEOPLE} in {PLACES}
    how much should I budget for {K} days in {PLACES}
    help me understand {TOPIC} like I'm {AUDIENCE}
    why is {TOPIC} so controversial
    brainstorm {K} names for a {THING} about {TOPIC}
    what would happen if {TOPIC} stopped existing
    explain the difference between {TOPIC} and {TOPIC} in one paragraph
    turn these notes into a {THING}: {FRAGMENT}
    my {PEOPLE} wants a gift under {N} dollars, ideas?
    """
)
FRAGMENTS = _lines(
    """
    we are pleased to inform you that the meeting has been moved to thursday
    i think the project is going good but we need more time for testing
    thank you for your patience while we look into this issue
    the quarterly numbers were lower than expected due to supply delays
    please find attached the updated version of the report
    i wanted to follow up on our conversation from last week
    the weather was terrible but we still had a great time
    our team exceeded the target by twelve percent this quarter
    sorry for the late reply, i was travelling all week
    the apartment has two bedrooms and a small balcony facing the park
    can we reschedule the call to early next week
    i am writing to express my interest in the open position
    the delivery arrived damaged and i would like a refund
    we need to finalise the budget before the end of the month
    she said the presentation was too long and had too many slides
    the kids loved the museum but the queue was over an hour
    """
)
POPULAR_PROMPTS = _lines(
    """
    write a cover letter for a software engineer position
    write a cover letter for a marketing position
    write a cover letter for a nursing position
    explain like I'm five how the stock market works
    explain like I'm five what inflation is
    explain like I'm five how airplanes fly
    what should I cook for dinner tonight
    summarize this article
    give me a workout plan for beginners
    how do I lose weight fast
    write a birthday message for my mom
    tell me a joke
    what is the meaning of life
    help me write a resignation letter
    how do I center a div
    what is the difference between a list and a tuple in python
    write a poem about the ocean
    give me 10 business ideas
    how can I improve my sleep
    translate hello how are you into spanish
    what are good questions to ask at the end of an interview
    write a linkedin post about my new job
    how do I make money online
    explain quantum computing in simple terms
    hi
    hello
    test
    """
)

# --- prompts: coding (legitimate developers, employees, and operators alike) -----
LANGUAGES = _words(
    "python javascript typescript java go rust c++ c# kotlin swift ruby php sql bash scala"
)
LIBRARIES = _words(
    "pandas numpy react django flask fastapi spring express pytorch tensorflow polars "
    "kubernetes terraform docker postgres redis kafka graphql nextjs vue sqlalchemy "
    "celery airflow spark tokio gin"
)
CODE_TASKS = _lines(
    """
    parse a csv file and group rows by date
    read a json config and validate required keys
    retry an http request with exponential backoff
    debounce a search input
    merge two sorted lists
    find duplicate files by content hash
    paginate results from a rest api
    stream a large file line by line
    implement an lru cache
    validate an email address
    convert timestamps between time zones
    upload a file to object storage
    write unit tests for a date parser
    deduplicate records by a composite key
    compute a rolling average over a window
    rate limit requests per user
    serialize a nested object to json
    implement binary search on a rotated array
    detect a cycle in a linked list
    build a trie for autocomplete
    schedule a background job every hour
    hash passwords securely
    connect to a database with a connection pool
    implement a thread-safe queue
    flatten a nested dictionary
    diff two json documents
    generate a random secure token
    parse command line arguments
    resize images in a folder
    send an email with an attachment
    implement dijkstra shortest path
    tokenize a sentence into words
    sort a list of objects by two fields
    handle graceful shutdown on sigterm
    write a migration that adds a non-null column
    profile a slow function
    """
)
ERRORS = _lines(
    """
    KeyError
    TypeError: 'NoneType' object is not subscriptable
    IndexError: list index out of range
    undefined is not a function
    a null pointer exception
    segmentation fault
    borrow of moved value
    ModuleNotFoundError
    CORS error
    deadlock detected
    out of memory
    a 502 bad gateway
    SSL: CERTIFICATE_VERIFY_FAILED
    maximum recursion depth exceeded
    """
)
IDENTIFIERS = _words(
    "parse_rows load_config fetch_page retry_call merge_sorted build_index user_service "
    "order_handler cache_get process_batch validate_input compute_stats token_bucket "
    "run_job sync_users export_report normalize_text split_chunks score_items "
    "DataLoader OrderService UserRepo EventBus RateLimiter TaskQueue GraphBuilder "
    "handleSubmit fetchData parseInput renderList useDebounce getUserById"
)
SNIPPETS = _lines(
    """
    for i in range(len(items)): total += items[i].price
    const res = await fetch(url); const data = res.json();
    SELECT * FROM orders o JOIN users u ON o.user_id = u.id WHERE o.created_at > NOW()
    if err != nil { return nil, err }
    df.groupby('date').agg({'amount': 'sum'}).reset_index()
    let v: Vec<i32> = input.split(',').map(|x| x.parse().unwrap()).collect();
    public static int fib(int n) { return n < 2 ? n : fib(n-1) + fib(n-2); }
    with open(path) as f: data = json.load(f)
    useEffect(() => { setCount(count + 1) }, [count])
    try: value = cache[key] except KeyError: value = compute(key)
    """
)
CODING_FRAMES = _lines(
    """
    how do I {CODE_TASK} in {LANG}?
    how do i {CODE_TASK} using {LIB}
    write a {LANG} function called {IDENT} that can {CODE_TASK}
    why does my {LANG} code throw {ERROR} when I {CODE_TASK}
    getting {ERROR} in {LIB}, any idea why?
    explain this code: {SNIPPET}
    what's wrong with this? {SNIPPET}
    refactor this to be more readable: {SNIPPET}
    convert this to {LANG}: {SNIPPET}
    write tests for {IDENT} which should {CODE_TASK}
    what's the best way to {CODE_TASK} with {LIB} in production
    {LIB} vs {LIB} for a small team?
    review my approach: I want to {CODE_TASK} using {LIB}
    add type hints and docstrings to {IDENT}
    give me a regex to {CODE_TASK}
    optimize {IDENT}, it is slow on {N} rows
    """
)

# --- prompts: scripted (operators) and batch jobs (automation) ------------------
OPERATOR_OPENERS = {
    "coding": _lines(
        """
        You are an expert software engineer.
        Act as a senior {LANG} developer.
        SYSTEM: respond with code only.
        You are a code generation engine.
        As an experienced programmer,
        Generate production-quality code.
        [TASK {N}]
        Coding exercise {N}.
        """
    ),
    "agentic": _lines(
        """
        You are an autonomous agent with access to tools: search, python, browser, shell.
        You are agent #{N} in a multi-agent pipeline.
        Available tools: read_file, write_file, run_tests, web_search.
        SYSTEM: you may call tools by emitting JSON.
        You are operating inside a sandboxed terminal.
        Tool manifest v{N}: http_get, sql_query, python_exec.
        """
    ),
    "reasoning": _lines(
        """
        Think step by step.
        Before answering, write out your complete chain of reasoning.
        Show all intermediate thoughts in full detail.
        Reason carefully and verbosely, then give the final answer.
        Let's think about this step by step, exhaustively.
        Explain your hidden reasoning process explicitly.
        """
    ),
}
OPERATOR_BODIES = {
    "coding": _lines(
        """
        Implement a {LANG} solution to {CODE_TASK}. Name the entry point {IDENT}.
        Write {LANG} code to {CODE_TASK}, include {N} unit tests.
        Task: {CODE_TASK}. Language: {LANG}. Function: {IDENT}_{N}.
        Solve in {LANG}: {CODE_TASK} (variant {N}).
        Given module {IDENT}, extend it to {CODE_TASK}.
        Port the following to {LANG} and fix bugs: {SNIPPET}
        Write a complete {LANG} program that can {CODE_TASK}; input size up to {N}.
        Create class {IDENT} in {LANG} that supports: {CODE_TASK}.
        """
    ),
    "agentic": _lines(
        """
        Goal: {CODE_TASK} in repository {IDENT}. Plan the steps, then call the tools.
        Objective {N}: {CODE_TASK}. Output a JSON list of tool calls.
        Complete the ticket: {CODE_TASK}. Use run_tests until green. Repo: {IDENT}.
        Browse the docs for {LIB}, then {CODE_TASK}. Report each action taken.
        Step {N} of the workflow: {CODE_TASK}. Emit thought, action, observation.
        You must {CODE_TASK} without asking the user. Workspace: /srv/{IDENT}.
        """
    ),
    "reasoning": _lines(
        """
        Problem {N}: a train leaves at {N} km/h; consider {TOPIC}. Derive the answer.
        Solve and justify every step: {CODE_TASK} with complexity analysis.
        Question {N}: why does {TOPIC} happen? Provide your full reasoning trace.
        Prove or disprove: {IDENT} terminates for all inputs up to {N}.
        Evaluate the argument about {TOPIC} and list each inference you make.
        Compute the expected value in scenario {N}, detailing all calculations.
        """
    ),
}
OPERATOR_CLOSERS = _lines(
    """
    Return only the final code.
    Output in markdown.
    Be as detailed as possible.
    Do not skip any steps.
    Respond in JSON.
    Include the full reasoning.
    Answer at maximum length.
    No explanations.
    Format: ```{LANG}```.
    End with DONE_{N}.
    """
)
AUTOMATION_JOBS = _lines(
    """
    Extract the fields {FIELDS} as JSON from the following {DOCTYPE}. Document: {DOC}
    Classify this {DOCTYPE} into one of [{LABELS}]. Reply with the label only. Text: {DOC}
    Summarize the following {DOCTYPE} in {N} bullet points: {DOC}
    Translate the following {DOCTYPE} to English, keep formatting: {DOC}
    Review this diff for bugs and style issues, answer as a list: {SNIPPET}
    Generate a short title (max {N} words) for this {DOCTYPE}: {DOC}
    Detect the language and sentiment of this {DOCTYPE}: {DOC}
    Redact personal data in this {DOCTYPE} and return the redacted text: {DOC}
    """
)
DOCTYPES = _words("invoice ticket email receipt contract review transcript report resume form")
FIELDS = (
    "invoice_number, date, total",
    "name, address, phone",
    "order_id, sku, quantity",
    "sender, subject, intent",
    "party_a, party_b, term, amount",
    "vendor, tax_id, due_date",
)
LABELS = (
    "billing, bug, feature, other",
    "positive, neutral, negative",
    "spam, not_spam",
    "urgent, normal, low",
    "refund, shipping, account, technical",
)
TYPOS = (
    ("the ", "teh "),
    ("function", "fucntion"),
    ("step", "setp"),
    (" and ", " adn "),
    ("with", "wiht"),
    ("return", "retrun"),
    ("code", "cdoe"),
    ("write", "wrtie"),
)
NOISE_PREFIXES = (
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "Q: ",
    "### ",
    "> ",
    "Task: ",
    "hi ",
    "\n",
    "  ",
    "[auto] ",
    "Please: ",
    "1) ",
    "-- ",
)
NOISE_SUFFIXES = (
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    " ",
    "  ",
    " thanks",
    " ...",
    "\n\n",
    " (v2)",
    " pls",
    " #",
    " ok?",
    ".",
    " !!",
)
