"""World specifications: every knob of the simulator, validated, and the presets.

See docs/simulator.md for what each knob does to the world.

Examples
--------
>>> spec = PRESETS["tiny"]
>>> spec.n_accounts, spec.n_operators
(2000, 4)
>>> WorldSpec(n_accounts=2000, fraud_account_share=2.0)
Traceback (most recent call last):
...
acctgraph.core.errors.ConfigError: WorldSpec.fraud_account_share must be in (0, 0.5), got 2.0
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from fractions import Fraction
from numbers import Real

import numpy as np

from acctgraph.core.errors import ConfigError

IP_TRADECRAFTS = ("residential_proxy", "proxy_reseller", "datacenter", "mobile_proxy")
PAYMENT_TRADECRAFTS = ("reused", "virtual", "none")
DEVICE_TRADECRAFTS = ("reused", "random")
EMAIL_TRADECRAFTS = ("random_alnum", "name_number", "catchall", "legit_like", "gmail_variants")
SIGNUP_TRADECRAFTS = ("burst", "spread")
VOLUME_TRADECRAFTS = ("high", "low_slow", "legit_like")
USER_AGENT_TRADECRAFTS = ("script", "sdk", "spoofed_browser")
PROMPT_FOCUSES = ("coding", "agentic", "reasoning", "mixed")
TEMPLATE_SOURCES = ("own", "public")
RHYTHMS = ("round_the_clock", "claimed_timezone")
_NEW_DIMENSIONS = ("templates", "camouflage", "rhythm", "teams", "paraphrase")


@dataclass(frozen=True, kw_only=True)
class Tradecraft:
    """How one operator works. Each field picks one option; see docs/simulator.md.

    Parameters
    ----------
    ip
        ``residential_proxy`` (sticky exits from a pool of residential /24s shared with
        real homes), ``proxy_reseller`` (a commercial VPN/proxy network that legitimate
        people also use), ``datacenter`` (VMs in the cloud /24s that developers and
        automation also use), ``mobile_proxy`` (carrier-grade NAT pools of mobile carriers).
    payment
        ``reused`` (one card per batch of 5-20 accounts), ``virtual`` (one card per
        account, no link), ``none``.
    device
        ``reused`` (a few VM images shared by many accounts) or ``random`` per account.
    email
        ``random_alnum`` (``[a-z]{6}[0-9]{4}@freemail``), ``name_number``
        (``first.last.NNNN@gmail.com``), ``catchall`` (any name at the operator's
        domain), ``legit_like`` (same generator as real people), ``gmail_variants``
        (dots and plus-tags of a few gmail mailboxes).
    signup
        ``burst`` (batches of dozens within minutes to hours) or ``spread`` (over weeks).
    volume
        ``high`` (24/7 automation), ``low_slow`` (daytime, few exchanges, about
        ``WorldSpec.camouflage_share`` of them ordinary chat) or ``legit_like`` (like
        ``low_slow``, but each account sends about as much as a legitimate user: a count
        of its own, outside ``WorldSpec.fraud_exchanges_per_account``).
    user_agent
        ``script`` (HTTP libraries), ``sdk`` (official SDKs), ``spoofed_browser``
        (one common browser string).
    prompt_focus
        ``coding``, ``agentic``, ``reasoning`` or ``mixed`` templates.
    n_templates
        Number of prompt templates (10-40 in the archetypes).
    templates
        ``own`` (templates written by the operator) or ``public`` (its templates are
        taken from the world's public library of capability-eliciting prompts, which
        legitimate people also send verbatim now and then; see
        ``WorldSpec.public_prompt_share``).
    camouflage
        Share of the operator's exchanges that is ordinary chat, coding questions and
        popular phrasings (0.8/0.1/0.1) instead of templates. None (default): as by
        ``volume`` (4% for ``high``, ``WorldSpec.camouflage_share`` otherwise).
    rhythm
        ``round_the_clock`` (uniform over the 24 hours) or ``claimed_timezone`` (every
        account in the waking hours, 07:00-01:00, of one time zone). None (default): as
        by ``volume`` (``high`` round the clock, otherwise the daytime of each account's
        own country).
    teams
        Accounts are split into this many disjoint teams; cards and devices are never
        shared across teams (addresses and templates are). 1 (default): no split.
    paraphrase
        Each templated prompt is rewritten (lead-in, synonyms, an added constraint) so
        that no exact text repeats; only topic, structure and capability targeting
        stay. False (default).
    """

    ip: str
    payment: str
    device: str
    email: str
    signup: str
    volume: str
    user_agent: str
    prompt_focus: str
    n_templates: int = 20
    templates: str = "own"
    camouflage: float | None = None
    rhythm: str | None = None
    teams: int = 1
    paraphrase: bool = False

    def __post_init__(self) -> None:
        choices = {
            "ip": IP_TRADECRAFTS,
            "payment": PAYMENT_TRADECRAFTS,
            "device": DEVICE_TRADECRAFTS,
            "email": EMAIL_TRADECRAFTS,
            "signup": SIGNUP_TRADECRAFTS,
            "volume": VOLUME_TRADECRAFTS,
            "user_agent": USER_AGENT_TRADECRAFTS,
            "prompt_focus": PROMPT_FOCUSES,
            "templates": TEMPLATE_SOURCES,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"Tradecraft.{name} must be one of {allowed}, got {value!r}")
        if not 1 <= self.n_templates <= 200:
            raise ConfigError(f"Tradecraft.n_templates must be in [1, 200], got {self.n_templates}")
        if self.camouflage is not None and not 0 <= self.camouflage < 1:
            raise ConfigError(
                f"Tradecraft.camouflage must be None or in [0, 1), got {self.camouflage}"
            )
        if self.rhythm is not None and self.rhythm not in RHYTHMS:
            raise ConfigError(
                f"Tradecraft.rhythm must be None or one of {RHYTHMS}, got {self.rhythm!r}"
            )
        if (
            isinstance(self.teams, bool)
            or not isinstance(self.teams, int)
            or not 1 <= self.teams <= 50
        ):
            raise ConfigError(f"Tradecraft.teams must be an integer in [1, 50], got {self.teams!r}")
        if not isinstance(self.paraphrase, bool):
            raise ConfigError(
                f"Tradecraft.paraphrase must be True or False, got {self.paraphrase!r}"
            )

    def describe(self) -> str:
        """One line listing every choice, for READMEs and summaries.

        The dimensions added later (``templates``, ``camouflage``, ``rhythm``, ``teams``,
        ``paraphrase``) are listed only when they differ from their defaults, so that the
        READMEs of existing worlds do not change.

        Examples
        --------
        >>> ARCHETYPES[0].describe()
        'ip=residential_proxy, payment=reused, device=reused, email=random_alnum, signup=burst, volume=high, user_agent=script, prompt_focus=coding, n_templates=30'
        >>> CAREFUL.describe().split(", n_templates=")[1]
        '2, templates=public, camouflage=0.4, rhythm=round_the_clock'
        """
        old = [f.name for f in fields(self) if f.name not in _NEW_DIMENSIONS]
        defaults = {f.name: f.default for f in fields(self)}
        text = ", ".join(f"{name}={getattr(self, name)}" for name in old if name != "n_templates")
        text += f", n_templates={self.n_templates}"
        for name in _NEW_DIMENSIONS:
            if getattr(self, name) != defaults[name]:
                text += f", {name}={getattr(self, name)}"
        return text

    def label(self, spec: WorldSpec) -> str:
        """Every dimension, defaults resolved, as ``name=value`` joined by ``;`` (labels.csv).

        ``camouflage`` and ``rhythm`` left at None are shown as the behaviour they give:
        the share of camouflage traffic, and ``round_the_clock`` or ``local_daytime``.

        Examples
        --------
        >>> ARCHETYPES[1].label(PRESETS["tiny"])
        'ip=proxy_reseller;payment=virtual;device=random;email=legit_like;signup=spread;volume=low_slow;user_agent=spoofed_browser;prompt_focus=reasoning;n_templates=15;templates=own;camouflage=0.5;rhythm=local_daytime;teams=1;paraphrase=false'
        """
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["camouflage"] = self.camouflage_share(spec)
        values["rhythm"] = self.rhythm or (
            "round_the_clock" if self.volume == "high" else "local_daytime"
        )
        values["paraphrase"] = "true" if self.paraphrase else "false"
        return ";".join(f"{name}={value}" for name, value in values.items())

    def camouflage_share(self, spec: WorldSpec) -> float:
        """Share of the operator's exchanges that is not templated, defaults resolved."""
        if self.camouflage is not None:
            return self.camouflage
        return 0.04 if self.volume == "high" else spec.camouflage_share


ARCHETYPES: tuple[Tradecraft, ...] = (
    Tradecraft(
        ip="residential_proxy",
        payment="reused",
        device="reused",
        email="random_alnum",
        signup="burst",
        volume="high",
        user_agent="script",
        prompt_focus="coding",
        n_templates=30,
    ),
    Tradecraft(
        ip="proxy_reseller",
        payment="virtual",
        device="random",
        email="legit_like",
        signup="spread",
        volume="low_slow",
        user_agent="spoofed_browser",
        prompt_focus="reasoning",
        n_templates=15,
    ),
    Tradecraft(
        ip="datacenter",
        payment="none",
        device="reused",
        email="catchall",
        signup="burst",
        volume="high",
        user_agent="sdk",
        prompt_focus="agentic",
        n_templates=25,
    ),
    Tradecraft(
        ip="residential_proxy",
        payment="virtual",
        device="random",
        email="name_number",
        signup="spread",
        volume="high",
        user_agent="spoofed_browser",
        prompt_focus="mixed",
        n_templates=40,
    ),
    Tradecraft(
        ip="mobile_proxy",
        payment="reused",
        device="random",
        email="gmail_variants",
        signup="burst",
        volume="low_slow",
        user_agent="sdk",
        prompt_focus="coding",
        n_templates=12,
    ),
    Tradecraft(
        ip="residential_proxy",
        payment="none",
        device="reused",
        email="legit_like",
        signup="burst",
        volume="high",
        user_agent="sdk",
        prompt_focus="reasoning",
        n_templates=20,
    ),
    Tradecraft(
        ip="datacenter",
        payment="reused",
        device="random",
        email="name_number",
        signup="spread",
        volume="low_slow",
        user_agent="script",
        prompt_focus="agentic",
        n_templates=10,
    ),
    Tradecraft(
        ip="proxy_reseller",
        payment="reused",
        device="reused",
        email="catchall",
        signup="spread",
        volume="high",
        user_agent="spoofed_browser",
        prompt_focus="coding",
        n_templates=35,
    ),
)
"""Eight operator archetypes; operator *i* uses archetype *i* unless ``tradecrafts`` is set."""

CAREFUL = Tradecraft(
    ip="proxy_reseller",
    payment="none",
    device="random",
    email="name_number",
    signup="spread",
    volume="legit_like",
    user_agent="spoofed_browser",
    prompt_focus="mixed",
    n_templates=2,
    templates="public",
    camouflage=0.4,
    rhythm="round_the_clock",
)
"""The careful operator: nothing of identity shared (no card, one device per account,
``first.last.NNNN@gmail.com``, signups spread over weeks, a legitimate user's volume),
exits of the commercial network legitimate VPN users share, 40% ordinary chat, and a
public capability-eliciting prompt that dominates each account's traffic at all hours.
Not in ``ARCHETYPES`` (that would change the presets); use it in ``tradecrafts``."""

WINDOW_START = datetime(2026, 4, 22, 0, 0, tzinfo=UTC)
WINDOW_END = datetime(2026, 6, 5, 23, 59, 59, tzinfo=UTC)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True, kw_only=True)
class WorldSpec:
    """Every knob of a simulated world. Defaults describe a mid-sized platform.

    Sizes
        ``n_accounts`` (all accounts, fraudulent included), ``fraud_account_share``,
        ``n_operators``, ``operator_size_exponent`` (operator *i* gets a share of the
        fraudulent accounts proportional to 1/i**exponent), ``tradecrafts`` (None: the
        archetypes in order, cycling).
    Legitimate mix (shares of legitimate accounts, summing to 1)
        ``individual_share``, ``family_share``, ``organisation_share``,
        ``automation_share``, ``developer_share``.
    Volume
        ``legit_exchanges_per_account`` and ``fraud_exchanges_per_account`` (means over
        every legitimate / fraudulent account), ``dormant_share`` (legitimate accounts
        that send nothing in the window).
    Time
        ``window_start``/``window_end`` (every exchange falls inside), ``history_days``
        (legitimate accounts were created up to this long before the window),
        ``new_signup_share`` (legitimate accounts created during the window).
    Behaviour
        ``no_card_share`` (individuals without a card), ``popular_prompt_share``
        (ordinary prompts taken from the shared popular phrasings), ``camouflage_share``
        (share of a low-and-slow operator's traffic that is ordinary chat),
        ``public_prompt_share`` (share of ordinary chat prompts replaced by a verbatim
        prompt of the public capability-prompt library; only in worlds where an operator
        takes its templates from that library, so other worlds are unchanged).
    Operators
        ``random_tradecrafts`` (each operator's tradecraft drawn from the whole space,
        seeded by the world's seed: :func:`random_tradecraft`; ``tradecrafts`` must then
        be None), ``tradecraft_in_labels`` (labels.csv gets a ``tradecraft`` column:
        :meth:`Tradecraft.label` of the account's operator, empty for legitimate ones).
    Dirt (shares of rows or accounts)
        ``dropped_account_share``, ``duplicate_exchange_share``, ``missing_value_share``,
        ``malformed_ip_share``, ``private_ip_share``, ``bad_created_at_share``,
        ``messy_email_share``, ``hostile_display_name_share``, ``hostile_prompt_share``.
    Output
        ``chunk_exchanges`` (exchange rows generated per chunk: bounds memory, does not
        change any row; Parquet pages follow the chunks, so it is part of what makes
        files byte-identical), ``row_group_rows`` (Parquet row group size),
        ``compression_level`` (zstd level of exchanges.parquet).
    """

    name: str = "custom"
    n_accounts: int
    fraud_account_share: float = 0.03
    n_operators: int = 7
    operator_size_exponent: float = 1.0
    tradecrafts: tuple[Tradecraft, ...] | None = None
    individual_share: float = 0.72
    family_share: float = 0.10
    organisation_share: float = 0.13
    automation_share: float = 0.005
    developer_share: float = 0.045
    legit_exchanges_per_account: float = 5.5
    fraud_exchanges_per_account: float = 330.0
    dormant_share: float = 0.3
    window_start: datetime = WINDOW_START
    window_end: datetime = WINDOW_END
    history_days: int = 730
    new_signup_share: float = 0.05
    no_card_share: float = 0.4
    popular_prompt_share: float = 0.08
    camouflage_share: float = 0.5
    public_prompt_share: float = 0.02
    random_tradecrafts: bool = False
    tradecraft_in_labels: bool = False
    dropped_account_share: float = 0.005
    duplicate_exchange_share: float = 0.002
    missing_value_share: float = 0.01
    malformed_ip_share: float = 0.001
    private_ip_share: float = 0.001
    bad_created_at_share: float = 0.001
    messy_email_share: float = 0.02
    hostile_display_name_share: float = 0.003
    hostile_prompt_share: float = 0.0005
    chunk_exchanges: int = 500_000
    row_group_rows: int = 262_144
    compression_level: int = 3

    def __post_init__(self) -> None:
        _check(
            isinstance(self.n_accounts, int) and self.n_accounts >= 200,
            f"WorldSpec.n_accounts must be an integer >= 200, got {self.n_accounts!r}",
        )
        _check(
            0 < self.fraud_account_share < 0.5,
            f"WorldSpec.fraud_account_share must be in (0, 0.5), got {self.fraud_account_share}",
        )
        _check(
            1 <= self.n_operators <= 99,
            f"WorldSpec.n_operators must be in [1, 99], got {self.n_operators}",
        )
        _check(
            round(self.n_accounts * self.fraud_account_share) >= 3 * self.n_operators,
            "WorldSpec: too few fraudulent accounts for the operators "
            f"({self.n_accounts} * {self.fraud_account_share} < 3 * {self.n_operators}); "
            "raise n_accounts or fraud_account_share, or lower n_operators",
        )
        _check(
            0 <= self.operator_size_exponent <= 4,
            f"WorldSpec.operator_size_exponent must be in [0, 4], got {self.operator_size_exponent}",
        )
        if self.tradecrafts is not None:
            _check(
                len(self.tradecrafts) == self.n_operators,
                f"WorldSpec.tradecrafts has {len(self.tradecrafts)} entries, "
                f"expected n_operators={self.n_operators}",
            )
            _check(
                all(isinstance(t, Tradecraft) for t in self.tradecrafts),
                "WorldSpec.tradecrafts must hold Tradecraft instances",
            )
            _check(
                not self.random_tradecrafts,
                "WorldSpec: set either tradecrafts or random_tradecrafts, not both",
            )
        mix = (
            self.individual_share,
            self.family_share,
            self.organisation_share,
            self.automation_share,
            self.developer_share,
        )
        _check(
            all(m >= 0 for m in mix) and abs(sum(mix) - 1) < 1e-6,
            f"WorldSpec legitimate shares must be >= 0 and sum to 1, got {mix} (sum {sum(mix)})",
        )
        _check(
            self.legit_exchanges_per_account > 0 and self.fraud_exchanges_per_account > 0,
            "WorldSpec exchanges per account must be positive",
        )
        _check(
            self.window_start.tzinfo is not None and self.window_end.tzinfo is not None,
            "WorldSpec.window_start and window_end must be timezone-aware (UTC)",
        )
        _check(
            (self.window_end - self.window_start).total_seconds() >= 3 * 86400,
            "WorldSpec window must span at least three days",
        )
        _check(
            30 <= self.history_days <= 20 * 365,
            f"WorldSpec.history_days must be in [30, 7300], got {self.history_days}",
        )
        for name in (
            "dormant_share",
            "new_signup_share",
            "no_card_share",
            "popular_prompt_share",
            "camouflage_share",
            "public_prompt_share",
        ):
            value = getattr(self, name)
            _check(0 <= value < 1, f"WorldSpec.{name} must be in [0, 1), got {value}")
        for name in (
            "dropped_account_share",
            "duplicate_exchange_share",
            "missing_value_share",
            "malformed_ip_share",
            "private_ip_share",
            "bad_created_at_share",
            "messy_email_share",
            "hostile_display_name_share",
            "hostile_prompt_share",
        ):
            value = getattr(self, name)
            _check(0 <= value <= 0.2, f"WorldSpec.{name} must be in [0, 0.2], got {value}")
        _check(
            self.chunk_exchanges >= 1000,
            f"WorldSpec.chunk_exchanges must be >= 1000, got {self.chunk_exchanges}",
        )
        _check(
            self.row_group_rows >= 1000,
            f"WorldSpec.row_group_rows must be >= 1000, got {self.row_group_rows}",
        )
        _check(
            1 <= self.compression_level <= 22,
            f"WorldSpec.compression_level must be in [1, 22], got {self.compression_level}",
        )

    @property
    def n_fraud_accounts(self) -> int:
        """Number of fraudulent accounts."""
        return round(self.n_accounts * self.fraud_account_share)

    def tradecraft(self, index: int) -> Tradecraft:
        """The tradecraft of operator ``index`` (0-based), when it does not depend on the seed."""
        if self.tradecrafts is not None:
            return self.tradecrafts[index]
        return ARCHETYPES[index % len(ARCHETYPES)]

    def operator_tradecrafts(self, seed: int) -> tuple[Tradecraft, ...]:
        """Every operator's tradecraft in this world; drawn from ``seed`` if ``random_tradecrafts``.

        The draws come from their own named stream (``tradecrafts``), so no other part
        of the world changes.

        Examples
        --------
        >>> spec = PRESETS["random"]
        >>> spec.operator_tradecrafts(3) == spec.operator_tradecrafts(3) != spec.operator_tradecrafts(4)
        True
        """
        if not self.random_tradecrafts:
            return tuple(self.tradecraft(i) for i in range(self.n_operators))
        from acctgraph.simulate.randomness import stream

        rng = stream(seed, "tradecrafts")
        return tuple(random_tradecraft(rng) for _ in range(self.n_operators))

    def scaled(self, factor: float) -> WorldSpec:
        """The same world with ``factor`` times the accounts (rounded).

        Every other knob is kept: shares, exchanges per account, operators and their
        tradecraft, dirt. Infrastructure (ISP ranges, cloud and business /24s) is
        sized from ``n_accounts``, so densities stay the same and the exchanges grow
        in proportion. A factor of 1 returns the spec itself; otherwise the name
        records the scale (``incident at scale 1/8``).

        Examples
        --------
        >>> small = PRESETS["incident"].scaled(1 / 8)
        >>> small.name, small.n_accounts, small.n_fraud_accounts, small.n_operators
        ('incident at scale 1/8', 125000, 3125, 8)
        """
        if isinstance(factor, bool) or not isinstance(factor, Real) or not factor > 0:
            raise ConfigError(f"scale must be a positive number, got {factor!r}")
        factor = float(factor)
        if factor == 1:
            return self
        n_accounts = round(self.n_accounts * factor)
        if n_accounts < 200:
            raise ConfigError(
                f"scale {factor:g} leaves {n_accounts} of the {self.n_accounts:,} accounts of "
                f"world {self.name!r}; a world needs at least 200 (raise the scale)"
            )
        name = f"{self.name} at scale {scale_label(factor)}"
        return replace(self, name=name, n_accounts=n_accounts)

    def expected_exchanges(self) -> tuple[float, float]:
        """Planned (legitimate, fraudulent) exchange rows before dirt (duplicates add ~0.2%).

        Examples
        --------
        >>> legit, fraud = PRESETS["incident"].expected_exchanges()
        >>> round(legit / 1e6, 1), round(fraud / 1e6, 2)
        (11.0, 28.75)
        """
        n_fraud = self.n_fraud_accounts
        return (
            (self.n_accounts - n_fraud) * self.legit_exchanges_per_account,
            n_fraud * self.fraud_exchanges_per_account,
        )


def random_tradecraft(rng: np.random.Generator) -> Tradecraft:
    """One tradecraft drawn from the whole space.

    With probability 0.15 the :data:`CAREFUL` operator; otherwise every dimension
    independently and uniformly over its options, ``n_templates`` in [1, 40],
    ``camouflage`` None (30%) or uniform in [0, 0.8), ``rhythm`` None (a third) or one
    of :data:`RHYTHMS`, ``teams`` one of 1, 1, 2, 3, 5, ``paraphrase`` with probability 0.3.

    Examples
    --------
    >>> import numpy as np
    >>> craft = random_tradecraft(np.random.default_rng(0))
    >>> isinstance(craft, Tradecraft)
    True
    """
    if rng.random() < 0.15:
        return CAREFUL

    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(len(options)))]

    return Tradecraft(
        ip=pick(IP_TRADECRAFTS),
        payment=pick(PAYMENT_TRADECRAFTS),
        device=pick(DEVICE_TRADECRAFTS),
        email=pick(EMAIL_TRADECRAFTS),
        signup=pick(SIGNUP_TRADECRAFTS),
        volume=pick(VOLUME_TRADECRAFTS),
        user_agent=pick(USER_AGENT_TRADECRAFTS),
        prompt_focus=pick(PROMPT_FOCUSES),
        n_templates=int(rng.integers(1, 41)),
        templates=pick(TEMPLATE_SOURCES),
        camouflage=None if rng.random() < 0.3 else round(float(rng.uniform(0, 0.8)), 2),
        rhythm=None if rng.random() < 1 / 3 else pick(RHYTHMS),
        teams=(1, 1, 2, 3, 5)[int(rng.integers(5))],
        paraphrase=bool(rng.random() < 0.3),
    )


def scale_label(factor: float) -> str:
    """``1/8`` for 0.125, ``2`` for 2.0, otherwise the number itself.

    Examples
    --------
    >>> scale_label(0.125), scale_label(0.002), scale_label(2.0), scale_label(0.75)
    ('1/8', '1/500', '2', '0.75')
    """
    inverse = 1 / factor
    if factor < 1 and abs(inverse - round(inverse)) < 1e-9 * inverse:
        return f"1/{round(inverse)}"
    return f"{factor:g}"


def parse_scale(text: str | float) -> float:
    """A scale factor from ``"1/8"``, ``"0.125"`` or a number; positive.

    Examples
    --------
    >>> parse_scale("1/8"), parse_scale("0.25"), parse_scale(1)
    (0.125, 0.25, 1.0)
    >>> parse_scale("0")
    Traceback (most recent call last):
    ...
    acctgraph.core.errors.ConfigError: scale must be a positive number such as 1/8 or 0.125, got '0'
    """
    try:
        value = float(Fraction(str(text).strip()))
    except (ValueError, ZeroDivisionError):
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"scale must be a positive number such as 1/8 or 0.125, got {text!r}")
    return value


# The incident acctgraph was built for: 25,000 fake accounts of eight operators (one per
# archetype: residential and mobile proxies, the reseller network shared with legitimate
# VPN users, datacenter VMs, batched cards, signup bursts, scripted templates) sending
# 28.8M exchanges over the six-week window, among 975,000 legitimate accounts sending ~11M.
# 1,150 per fraudulent account: with the 0.2% duplicate rows, 28.8M fraudulent rows.
_INCIDENT = WorldSpec(
    name="incident",
    n_accounts=1_000_000,
    fraud_account_share=0.025,
    n_operators=8,
    legit_exchanges_per_account=11.3,
    fraud_exchanges_per_account=1_150.0,
)

PRESETS: dict[str, WorldSpec] = {
    "tiny": WorldSpec(
        name="tiny",
        n_accounts=2_000,
        n_operators=4,
        legit_exchanges_per_account=5.5,
        fraud_exchanges_per_account=330.0,
        dropped_account_share=0.006,
        hostile_display_name_share=0.006,
        hostile_prompt_share=0.001,
        bad_created_at_share=0.003,
    ),
    "sample": WorldSpec(
        name="sample",
        n_accounts=20_000,
        n_operators=7,
        legit_exchanges_per_account=5.3,
        fraud_exchanges_per_account=330.0,
        compression_level=9,
    ),
    "bench": WorldSpec(
        name="bench",
        n_accounts=200_000,
        n_operators=8,
        legit_exchanges_per_account=9.0,
        fraud_exchanges_per_account=540.0,
    ),
    "incident": _INCIDENT,
    # The incident's size in another shape, for memory and time measured on more than one
    # world: legitimate users nearly three times as chatty (more distinct prompts, addresses
    # and windows per account, so about 1.5x the attribute rows per account) and quieter
    # operators (600 exchanges per fraudulent account), ~45M exchanges in all.
    "incident-chatty": replace(
        _INCIDENT,
        name="incident-chatty",
        legit_exchanges_per_account=31.0,
        fraud_exchanges_per_account=600.0,
    ),
    # Sized like sample, but every operator's tradecraft is drawn from the whole space from
    # the seed (old and new dimensions, the careful operator among the draws), so that
    # quality is measured over many worlds the detector was not tuned on.
    "random": WorldSpec(
        name="random",
        n_accounts=20_000,
        n_operators=7,
        legit_exchanges_per_account=5.3,
        fraud_exchanges_per_account=330.0,
        random_tradecrafts=True,
        tradecraft_in_labels=True,
    ),
}
"""Named worlds: ``tiny`` (unit tests), ``sample`` (committed to git), ``bench`` (timing),
``incident`` (1M accounts, ~40M exchanges: the scale target; ``WorldSpec.scaled`` for
fractions of it), ``incident-chatty`` (the incident's accounts, chattier legitimate users and
quieter operators: ~45M exchanges, ~1.5x the attribute rows per account), ``random`` (sample-sized, tradecrafts drawn from the seed)."""
