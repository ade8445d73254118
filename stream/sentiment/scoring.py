"""Sentiment of one customer message: VADER with contact-center complaint cues.

``score(text)`` is a number in [-1, 1], negative for unhappy customers. It is VADER's
compound score (lexicon and rules for social-media English) moved by two layers written by
hand for contact-center traffic (docs/sentiment.md):

- a domain lexicon: words VADER rates as sentiment that are plain service vocabulary here
  ("please", "help", "support", "care") are made neutral, and complaint words VADER lacks
  ("canceled", "stranded", "outage", "overcharged") are added, so VADER's own negation
  and intensity rules apply to them ("not delayed", "very delayed");
- complaint cues: phrases that name a failed service without any negative word ("still
  waiting for my refund", "third hour on hold", "no one picks up", "charged twice").
  Each cue found adds its weight (in VADER's valence units) to VADER's sum before the
  sum is squashed back into [-1, 1], exactly as a lexicon word would.

A message is negative when its score is at or below the configured threshold
(:func:`is_negative`). The analyzer and every pattern are built once, at import; the hot path
is one VADER score (computed by :mod:`stream.sentiment.vader`, to the digit what
vaderSentiment computes, five times faster compiled) and one regex scan.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from stream.sentiment.dispatch import alternation
from stream.sentiment.vader import Vader

MAX_SCORED_CHARS = 2_000  # only the start of a very long message is read
VADER_ALPHA = 15.0  # VADER's normalisation constant: compound = s / sqrt(s * s + alpha)
_COMPOUND_LIMIT = 0.9999  # VADER rounds to 4 places; keep the inverse finite

# --- domain lexicon -------------------------------------------------------------------------

# Service vocabulary that VADER scores as positive but that customers use when things go
# wrong ("please help", "your support", "customer care", "I was promised", "like 3 hours").
NEUTRAL_WORDS: tuple[str, ...] = (
    "please", "help", "helps", "support", "care", "hope", "like", "sure", "free", "credit",
    "promise", "promised", "well", "want", "true", "save", "yes", "yeah", "ok", "okay",
)

# Complaint words VADER does not know, or knows too weakly for a contact center.
DOMAIN_LEXICON: dict[str, float] = {
    "canceled": -1.3, "cancelled": -1.3, "cancellation": -1.2, "cancelation": -1.2,
    "cancellations": -1.2, "delayed": -1.5, "delay": -1.3, "delays": -1.4,
    "stranded": -2.2, "outage": -1.8, "outages": -1.8, "overbooked": -1.6, "oversold": -1.4,
    "overcharged": -2.2, "overbilled": -2.2, "unanswered": -1.8, "unresolved": -1.8,
    "unreachable": -1.6, "unhelpful": -2.0, "nightmare": -2.6, "hassle": -1.5,
    "glitch": -1.3, "glitches": -1.3, "glitchy": -1.5, "buggy": -1.5, "misconnect": -1.5,
    "misconnected": -1.5, "diverted": -0.8, "rebooked": -0.6, "bumped": -1.0,
    "downgraded": -1.4, "mishandled": -1.8, "incompetence": -2.5, "clueless": -1.8,
    "joke": -1.5, "late": -0.8, "waiting": -0.8, "missing": -1.0, "refund": -0.5,
    "refunds": -0.5, "lied": -2.2, "lying": -2.0, "disconnected": -1.2,
    "smh": -1.5, "ugh": -1.8, "seriously": -1.0, "rebook": -0.6, "rebooking": -0.6,
    "understaffed": -1.6, "mechanical": -0.8, "issue": -0.7, "issues": -0.7,
}


def _analyzer() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    for word in NEUTRAL_WORDS:
        analyzer.lexicon[word] = 0.0
    analyzer.lexicon.update(DOMAIN_LEXICON)
    return analyzer


# --- complaint cues ----------------------------------------------------------------------------

_NUM = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|ten|twelve|several|many|multiple)"
_SPAN = r"(?:hours?|hrs?|days?|weeks?|months?|mins?|minutes?)"
_ORDINAL = r"(?:second|third|fourth|fifth|sixth|2nd|3rd|4th|5th|6th|\d+th|umpteenth|nth)"
_NEG = (r"(?:not|never|no|haven'?t|hasn'?t|didn'?t|did\s+not|have\s+not|has\s+not|still\s+not"
        r"|yet\s+to|isn'?t|wasn'?t|aren'?t|weren'?t|don'?t|doesn'?t|won'?t)")
_ITEM = (r"(?:bags?|baggage|luggage|suitcases?|packages?|parcels?|orders?|deliver(?:y|ies)"
         r"|items?|shipment|card|tickets?|boarding\s+pass(?:es)?)")
_W = r"(?:[\w'-]+\s+)"  # one word and its trailing space

# (name, weight, negatable, pattern). The first alternative that matches at a position wins,
# so specific cues come before the general ones they contain; matches do not overlap.
# Weights are in VADER valence units (VADER: "delay" -1.3, "awful" -2.0, "worst" -3.1).
# A negatable cue is skipped when a negation stands just before it ("not on hold").
CUES: tuple[tuple[str, float, bool, str], ...] = (
    # things going well, which otherwise read as complaints ("no problem", "issue fixed")
    ("no_problem", 1.8, False, r"no\s+(?:problem|problems|worries|issues?|complaints?)"),
    ("resolved", 1.8, True,
     r"(?:problem|issue|it|that|everything|all)\s+(?:is\s+|was\s+|has\s+been\s+|got\s+|now\s+)?"
     r"(?:solved|resolved|fixed|sorted(?:\s+out)?)"),
    ("on_time", 0.8, True, r"(?:on\s+time|arrived\s+safely|right\s+away|quick\s+response)"),
    # sarcasm that VADER reads as praise
    ("thanks_for_nothing", -3.8, False,
     r"thanks?\s+(?:you\s+)?(?:for\s+nothing|a\s+lot\s+for\s+nothing|for\s+(?:nothing|zero))"),
    ("great_job_sarcasm", -2.0, False,
     r"(?:great|good|nice|wonderful|fantastic)\s+(?:job|work|service)\s*[,.!]*\s*(?:not|/s)\b"),
    # waiting, holding, time passing
    ("still_waiting", -2.2, False,
     r"(?:still|been|keep|kept|am|i'?m|we'?re|we\s+are)\s+" + _W + r"?waiting"),
    ("on_hold", -1.8, True,
     r"(?:on\s+hold|hold\s+(?:time|times|music)|(?:put|placed|left|kept)\s+(?:me\s+|us\s+)?on\s+"
     r"hold)"),
    ("waited_long", -1.8, False,
     r"(?:for|over|after|almost|nearly|about|past|than)\s+" + _NUM + r"\s*\+?\s*" + _SPAN
     + r"(?:\s+(?:now|already|later))?"),
    ("ordinal_attempt", -1.6, False,
     _ORDINAL + r"\s+(?:time|hour|day|week|call|attempt|email|request|chat|agent|person|rep|"
     r"transfer|flight|delay|cancellation)s?"),
    ("in_a_row", -1.6, False, r"in\s+a\s+row"),
    ("duration", -0.7, False, r"\d+\s*\+?\s*" + _SPAN),
    ("how_long", -1.0, False,
     r"how\s+(?:much\s+)?(?:long|many\s+(?:more\s+)?(?:times|hours|days|calls))|how\s+hard\s+is"
     r"|what'?s\s+taking\s+so\s+long|taking\s+(?:so|too|forever)"),
    ("forever", -1.4, False, r"(?:forever|ages|eternity)"),
    # nobody answers
    ("nobody_answers", -2.5, False,
     r"(?:no\s*one|nobody|noone|no\s+body)\s+" + _W + r"?(?:answers?|answered|answering|"
     r"picks?\s+up|picked\s+up|picking\s+up|responds?|responded|responding|replies|replied|"
     r"replying|helps?|helped|helping|cares?|called|calls|knows?|gets?\s+back|got\s+back|"
     r"is\s+(?:answering|responding|helping|there|available)|seems)"),
    ("nobody", -1.2, False, r"(?:no\s*one|nobody|noone)"),
    ("no_service", -1.6, False,
     r"no\s+(?:answer|answers|response|responses|reply|replies|help|info|information|update|"
     r"updates|communication|call\s*back|callback|email|notification|notice|explanation|"
     r"assistance|support|service|refund|compensation|resolution|contact|agents?|"
     r"staff|one\s+available|way\s+to\s+(?:reach|contact|call)|seats?|signal|power|internet|"
     r"connection|wifi|show|record)"),
    ("never_received", -2.2, False,
     _NEG + r"\s+" + _W + r"?(?:received?|receiving|arrived?|got|gotten|gotten\s+back|"
     r"heard(?:\s+back)?|responded|replied|called(?:\s+(?:me\s+)?back)?|showed?\s+up|shown\s+up|"
     r"came|come|refunded|credited|fixed|resolved|sorted|processed|delivered|answered|"
     r"contacted|updated|returned|reimbursed|honou?red|been\s+(?:refunded|fixed|resolved|"
     r"contacted|delivered|processed|credited|received|told|given|helped))"),
    ("cannot_do", -1.8, False,
     r"(?:can'?t|cannot|can\s+not|couldn'?t|unable\s+to|won'?t\s+let\s+(?:me|us)|impossible\s+to|"
     r"not\s+able\s+to|no\s+way\s+to|failed\s+to|keeps?\s+failing\s+to)\s+" + _W + r"?"
     r"(?:get\s+through|get\s+(?:a|any)\s+(?:hold|answer|response)|reach|contact|log\s*in|"
     r"login|sign\s*in|access|connect|find|get|call|speak|talk|use|pay|check\s*in|book|change|"
     r"cancel|rebook|complete|make|load|open|download|see|track|hear|understand|believe)"),
    ("not_working", -1.8, False,
     r"(?:not|isn'?t|aren'?t|wasn'?t|doesn'?t|don'?t|didn'?t|won'?t|stopped|still\s+not|never)"
     r"\s+" + _W + r"?(?:working|work|works|load|loading|connect|connecting|respond|"
     r"responding|charging|answering|helping|arrive|arriving|showing\s+up|go(?:ing)?\s+through|"
     r"turn(?:ing)?\s+on|functioning)"),
    # repeated failure
    ("again_failed", -1.8, False,
     r"(?:delayed|cancell?ed|late|down|broken|crashed|happened|happening|charged|billed|lost|"
     r"disconnected|dropped|transferred|stuck|failed|same\s+(?:thing|problem|issue|story))\s+"
     r"(?:yet\s+)?again"),
    ("yet_again", -1.6, False, r"(?:yet|once)\s+again|again\s*[?!]|again\s*\.\.\."),
    ("another_failure", -1.6, False,
     r"another\s+(?:delay|cancell?ation|hour|day|week|call|email|problem|issue|error|"
     r"excuse|outage|mistake|transfer)"),
    ("keeps_doing", -1.3, False,
     r"(?:keeps?|kept)\s+(?:on\s+)?(?:\w+ing)|every\s+(?:single\s+)?time|each\s+time|"
     r"over\s+and\s+over"),
    ("still_problem", -1.8, False,
     r"still\s+(?:no|not|nothing|haven'?t|hasn'?t|didn'?t|can'?t|unable|broken|down|delayed|"
     r"stuck|on|sitting|here|at|in|no\s+sign|missing|charged|waiting|the\s+same|doesn'?t|"
     r"isn'?t|won'?t|don'?t|nobody|no\s*one)"),
    ("still", -0.8, False, r"still"),
    # broken service
    ("is_down", -1.6, True,
     r"(?:is|are|was|were|been|still|keeps?\s+going|went|goes|go)\s+down|"
     r"(?:site|app|website|system|service|internet|network|line|phone)\s+(?:is\s+)?down"),
    ("crashing", -1.3, True, r"(?:crash(?:es|ed|ing)?|froze|freez(?:es|ing)|frozen)"),
    ("slow", -0.9, True, r"(?:slow|slowest|sluggish|lagg(?:y|ing))"),
    # travel
    ("lost_item", -2.0, True,
     r"(?:lost|missing|damaged|broken|delayed|mishandled|stolen|wrong)\s+(?:my\s+|our\s+|the\s+)?"
     + _ITEM + r"|" + _ITEM + r"\s+(?:\w+\s+)?(?:is\s+|was\s+|were\s+|are\s+|has\s+been\s+|"
     r"have\s+been\s+|got\s+)?(?:lost|missing|damaged|late|delayed|stolen|broken|"
     r"never\s+(?:arrived|came|showed))"),
    ("missed_connection", -1.6, True,
     r"missed\s+(?:my\s+|our\s+|the\s+|a\s+)?(?:connection|connecting\s+flight|flight|"
     r"appointment|delivery|meeting|cruise|train|wedding|funeral)"),
    ("stuck_at", -1.8, False,
     r"(?:stuck|sitting|sat|trapped|waiting)\s+(?:\w+\s+)?(?:at|on|in)\s+(?:the\s+|an?\s+)?"
     r"(?:airport|gate|tarmac|plane|runway|terminal|hotel|queue|line)"),
    ("tarmac", -1.4, False, r"tarmac"),
    ("flight_trouble", -1.4, True,
     r"(?:flight|flights|plane|train|bus)\s+(?:\w+\s+)?(?:is\s+|was\s+|got\s+|has\s+been\s+)?"
     r"(?:cancell?ed|delayed|late|diverted|overbooked|oversold|full)"),
    # money
    ("charged_wrong", -2.2, False,
     r"(?:charged|billed)\s+(?:me\s+|us\s+)?(?:twice|two\s+times|double|again|three\s+times|"
     r"(?:an?\s+)?(?:extra|wrong|incorrect)|for\s+(?:something|nothing))|double[-\s]?"
     r"(?:charged|billed|charge)|over-?charged|over-?billed"),
    ("fees", -1.2, False,
     r"(?:hidden|extra|unexpected|ridiculous|outrageous|change|bag(?:gage)?|cancellation|"
     r"late|service)\s+(?:fees?|charges?)"),
    ("want_refund", -1.6, False,
     r"(?:want|need|demand|demanding|request|requesting|where\s+is|where'?s|owe\s+me)\s+"
     r"(?:a\s+|my\s+|our\s+|the\s+)?(?:full\s+)?(?:refund|money\s+back|compensation|"
     r"reimbursement)|money\s+back"),
    ("refund_mention", -0.6, False, r"(?:refund(?:ed|s)?|reimburs\w*|compensat\w*|voucher)"),
    # the contact itself failing
    ("hung_up", -1.8, False,
     r"hung\s+up(?:\s+on)?|dropped\s+(?:my\s+|the\s+|our\s+)?call|call\s+(?:was\s+|got\s+)?"
     r"(?:dropped|cut\s+off|disconnected)|cut\s+(?:me\s+)?off|busy\s+signal"),
    ("transferred_around", -1.6, False,
     r"transferred\s+(?:me\s+|us\s+)?(?:\w+\s+)?(?:times|again|around)|"
     r"(?:bounced|passed|sent)\s+(?:me\s+)?(?:around|back\s+and\s+forth|from\s+\w+\s+to)"),
    ("transferred", -0.6, False, r"transferred"),
    ("want_human", -1.4, False,
     r"(?:real|actual|live)\s+(?:person|human|agent)|(?:speak|talk)\s+(?:to|with)\s+"
     r"(?:a\s+)?(?:human|person)|(?:stupid|useless)\s+(?:bot|robot|machine|system)"),
    ("customer_service_trouble", -1.0, False,
     r"(?:customer\s+(?:service|care|support)|call\s+cent(?:er|re)|help\s*desk)\s+"
     r"(?:is|was|has\s+been|keeps|never|won'?t|can'?t|didn'?t|doesn'?t)"),
    # exasperation
    ("why_question", -1.2, False,
     r"why\s+(?:is|are|was|were|does|do|did|has|have|can'?t|cannot|won'?t|isn'?t|wasn'?t|"
     r"aren'?t|don'?t|doesn'?t|didn'?t|haven'?t|hasn'?t|would|should|the\s+hell|on\s+earth|"
     r"no|not|must|am\s+i|would\s+you|should\s+i)"),
    ("whats_the_point", -1.6, False,
     r"what'?s\s+the\s+point|what\s+is\s+going\s+on|what'?s\s+going\s+on|what\s+a\s+(?:joke|"
     r"mess|waste|shame)|is\s+this\s+(?:a\s+joke|serious|how)|are\s+you\s+(?:kidding|serious)"),
    ("exasperation", -1.3, False,
     r"come\s+on|really\s*\?|seriously\s*\?|hello\s*\?+|wtf|ffs|omg|unbelievable|"
     r"fed\s+up|sick\s+(?:and\s+tired|of)|had\s+enough|enough\s+is\s+enough"),
    ("never_again", -2.2, False,
     r"never\s+(?:again|fly(?:ing)?|use|using|buy(?:ing)?|book(?:ing)?|order(?:ing)?|"
     r"recommend)|last\s+time\s+i|(?:switch(?:ing)?|go(?:ing)?|mov(?:e|ing))\s+to\s+"
     r"(?:another|a\s+different|your\s+competitors?|a\s+competitor)|take\s+my\s+business"),
    ("broken_promise", -1.4, False,
     r"(?:was|were|is|are)\s+supposed\s+to|(?:you|they|agent|rep|i\s+was|we\s+were)\s+"
     r"(?:\w+\s+)?(?:promised|told\s+(?:me|us))|(?:said|told\s+(?:me|us))\s+(?:it\s+)?would"),
    ("fail_tag", -1.8, False, r"#\w*fail\w*|epic\s+fail"),
    ("wasted", -1.0, False, r"wast(?:e|ed|ing)\s+(?:of\s+)?(?:my|our|time|money|hours?|day)"),
    # chasing, effort, disappointed expectations
    ("where_is_my", -1.2, False,
     r"(?:where\s+(?:is|are)|where'?s|what\s+happened\s+to)\s+(?:my|our|the)"),
    ("any_update", -0.8, False, r"any\s+(?:update|updates|news|word|info|information)"),
    ("anyone_there", -1.6, False,
     r"(?:is|can)\s+(?:anyone|anybody)|anyone\s*\?|anybody\s*\?|anyone\s+(?:there|home)"),
    ("nothing_happens", -1.6, False,
     r"nothing\s+(?:works|worked|happened|happens|has\s+(?:changed|happened|been\s+done)|"
     r"was\s+done|yet)"),
    ("not_even", -1.4, False,
     r"(?:not|didn'?t|doesn'?t|don'?t|couldn'?t|won'?t|wouldn'?t|can'?t|haven'?t|hasn'?t)\s+"
     r"even|(?:could|can)\s+(?:you\s+)?at\s+least"),
    ("had_to", -0.8, False,
     r"had\s+to|have\s+to\s+(?:call|wait|pay|keep|chase|go|ask|explain)|only\s+to\s+(?:be|find)"
     r"|(?:i|we)\s+(?:was|were)\s+told"),
    ("long_wait", -1.4, False,
     r"long\s+(?:lines?|queues?|waits?|wait\s+times?|hold|delays?)"),
    ("having_trouble", -1.2, True,
     r"(?:having|had|have|experiencing|facing)\s+(?:\w+\s+)?(?:issues?|problems?|trouble|"
     r"difficult(?:y|ies))"),
    ("expect_better", -1.8, False,
     r"(?:expect(?:ed)?|deserve|do)\s+better|better\s+than\s+this|how\s+is\s+(?:this|that|it)"
     r"\s+(?:ok|okay|acceptable|possible|fair|legal|allowed)"),
    ("stop_doing", -1.4, False,
     r"stop\s+(?:sending|calling|charging|emailing|texting|billing)"),
    # "?!" after any word; last, so any word cue at the same place wins. The word and the
    # spaces are read possessively (the engine never gives them back to try again: what
    # follows them cannot be a word character or a space), which spares a backtrack over
    # every word of every message.
    ("interrobang", -1.0, False, r"[\w']++\s*+(?:\?+\s*!+|!+\s*\?+)"),
)

_CUE_PATTERN = re.compile(
    r"(?<![\w'])(?:" + "|".join(f"(?P<{name}>{pattern})" for name, _, _, pattern in CUES)
    + r")(?![\w'])",
)
# The same alternation without the names, grouped by the first character of a match
# (stream/sentiment/dispatch.py): it finds the same matches at the same places, and the
# engine tries at each word only the cues that can start with its first letter (a named
# group would also cost the engine its marks at every place it tries). The named pattern is
# then matched only where a cue was found, for its name.
_CUE_SCAN = re.compile(r"(?<![\w'])" + alternation([pattern for _, _, _, pattern in CUES])
                       + r"(?![\w'])")
_CUE_WEIGHT: dict[str, float] = {name: weight for name, weight, _, _ in CUES}
_NEGATABLE: frozenset[str] = frozenset(name for name, _, negatable, _ in CUES if negatable)
# A negation just before a cue ("not delayed", "wasn't on hold", "no crash"), within one word.
_NEGATED_BEFORE = re.compile(
    r"(?:\b(?:not|no|never|without|nothing)|n't|\bcannot)\s+(?:[\w'-]+\s+)?$"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def _straight(text: str) -> str:
    """``text`` with curly apostrophes straight (they are all outside ASCII)."""
    return text if text.isascii() else text.translate(_APOSTROPHES)


_ANALYZER = _analyzer()
_VADER = Vader(_ANALYZER)


def _to_sum(compound: float) -> float:
    """VADER's summed valence from its compound score (the inverse of its normalisation)."""
    c = max(-_COMPOUND_LIMIT, min(_COMPOUND_LIMIT, compound))
    return c * math.sqrt(VADER_ALPHA / (1.0 - c * c))


def _to_compound(total: float) -> float:
    return total / math.sqrt(total * total + VADER_ALPHA)


def cues(text: str) -> list[str]:
    """The names of the complaint cues found in ``text``, in order (also explains a score)."""
    lowered = _straight(text.lower())
    found: list[str] = []
    for found_at in _CUE_SCAN.finditer(lowered):
        start = found_at.start()
        match = _CUE_PATTERN.match(lowered, start)  # the same alternative, by its name
        name = match.lastgroup if match is not None else None
        if name is None:  # pragma: no cover - the scan found it, every alternative is named
            continue
        if name in _NEGATABLE and _NEGATED_BEFORE.search(lowered, max(0, start - 24), start):
            continue
        found.append(name)
    return found


def cue_weight(text: str) -> float:
    """The summed weight of the complaint cues in ``text`` (negative for complaints)."""
    return sum(_CUE_WEIGHT[name] for name in cues(text))


def vader_compound(text: str) -> float:
    """VADER's compound score with the domain lexicon, without the phrase cues."""
    return _VADER.compound(text)


def score(text: str) -> float:
    """Sentiment of one message in [-1, 1]: negative is unhappy (see the module docstring)."""
    if len(text) > MAX_SCORED_CHARS:
        text = text[:MAX_SCORED_CHARS]
    compound = _VADER.compound(text)
    extra = cue_weight(text)
    if extra == 0.0:
        return compound
    return _to_compound(_to_sum(compound) + extra)


def is_negative(score: float, threshold: float) -> bool:
    """Whether a score counts as negative: at or below the threshold."""
    return score <= threshold


# --- escalation phrases ------------------------------------------------------------------------


def _phrase_key(phrase: str) -> str:
    return " ".join(_straight(phrase.lower()).split())


@lru_cache(maxsize=16)
def _escalation_patterns(phrases: tuple[str, ...]
                         ) -> tuple[re.Pattern[str], re.Pattern[str] | None, dict[str, str]]:
    """The phrases' pattern (case-insensitive), the same for lowercased ASCII text if every
    phrase is ASCII (else None), and each phrase by its key."""
    keys = {_phrase_key(phrase): phrase for phrase in phrases}
    # Longest first, so "cancel my account" wins over "cancel" at the same place.
    alternatives = [r"\s+".join(re.escape(word) for word in key.split())
                    for key in sorted(keys, key=len, reverse=True)]
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)
    # ASCII letters fold one to one, so in ASCII text ASCII phrases are found as well in the
    # lowercased text, case-sensitively; and then the engine can try at each word only the
    # phrases that start with its letter (stream/sentiment/dispatch.py), which it cannot do
    # case-insensitively (two and a half times the work).
    lowered = (re.compile(r"(?<!\w)" + alternation(alternatives) + r"(?!\w)")
               if all(key.isascii() for key in keys) else None)
    return pattern, lowered, keys


def escalation_phrases(text: str, phrases: tuple[str, ...]) -> list[str]:
    """The configured phrases found in ``text`` on whole words, each once, in text order,
    spelled as configured."""
    if not phrases:
        return []
    pattern, lowered, keys = _escalation_patterns(phrases)
    found: list[str] = []
    matches = (lowered.finditer(text.lower()) if lowered is not None and text.isascii()
               else pattern.finditer(_straight(text)))
    for match in matches:
        phrase = keys[_phrase_key(match.group())]
        if phrase not in found:
            found.append(phrase)
    return found
