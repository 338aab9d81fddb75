"""The words that carry a decision: refusals, acceptances, conditions, reasons, greetings."""

from __future__ import annotations

import re

from bot.domain.vocab import DeclineReason, ProvisionReason

ACCEPT = "accept"
TENTATIVE = "tentative"
DECLINE = "decline"

_W = r"[\w'-]+"  # one word, apostrophes and hyphens included ("can't", "pre-placement")
_GAP = rf"(?:{_W} ){{0,2}}"  # up to two words between the parts of a phrase


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])")


# Refusals. Written accent-folded: "plätze" is matched as "platze", "no podrá" as "no podra".
_SPACE = (
    r"(?:vacanc(?:y|ies)|beds?|space|room|openings?|places?|spots?|slots?|capacity|availability"
    r"|plazas?|camas?|cupos?|vacantes?|lugar(?:es)?|espacio|disponibilidad"
    r"|platz|platze|betten?|kapazitat(?:en)?)"
)
DECLINE_CUES = _rx(
    r"^declin(?:e|ed|ing)",
    rf"(?:we|i|we're|we are|i'm|i am|we'll|i'll) {_GAP}declin(?:e|ed|ing)",
    r"(?:must|have to|need to|will have to|'ll have to|has to) (?:decline|pass)",
    r"(?:can ?not|can't|cant|unable to|not able to|won't be able to|will not be able to"
    rf"|are not able to|aren't able to|not in a position to) {_GAP}(?:accept|take|serve|admit"
    r"|support|meet|place|offer)",
    rf"no {_GAP}{_SPACE}",
    rf"(?:don't|do not|doesn't|does not|didn't) have {_GAP}{_SPACE}",
    r"(?:we're|we are|we're currently|we are currently|currently) (?:at capacity|full)",
    r"at (?:full )?capacity",
    r"fully booked",
    r"not a (?:good )?fit",
    r"(?:not|n't) (?:currently )?(?:accepting|taking)",
    r"pass on this",
    # Spanish
    rf"no (?:tenemos|hay|contamos con|disponemos de) {_GAP}{_SPACE}",
    rf"no (?:podemos|podremos|es posible) {_GAP}(?:aceptar|recibir|tomar|atender|admitir)",
    r"(?:rechazamos|rechazar|declinamos|declinar)",
    r"(?:estamos|esta) (?:llenos?|completos?)",
    rf"sin {_SPACE}",
    # German
    rf"keine?[nrs]? {_GAP}{_SPACE}",
    rf"(?:nicht|kein) {_GAP}(?:aufnehmen|annehmen|ubernehmen|versorgen)",
    rf"(?:mussen|muss) {_GAP}{_GAP}ablehnen",
    rf"lehnen {_GAP}{_GAP}ab",
    r"absage|ausgebucht|voll belegt|sind voll",
)
# A refusal or a yes about someone else ("the family declined", "she accepted a place
# elsewhere", "they can't take the bed") is not the program's decision.
THIRD_PERSON = frozenset(
    {
        "they",
        "he",
        "she",
        "it",
        "who",
        "family",
        "parents",
        "parent",
        "mom",
        "mother",
        "dad",
        "father",
        "guardian",
        "client",
        "hospital",
        "school",
        "el",
        "ella",
        "ellos",
        "ellas",
        "familia",
        "padres",
        "madre",
        "padre",
        "er",
        "familie",
        "eltern",
        "mutter",
        "vater",
    }
)

# A plain "No." / "No, sorry" / "Nein." at the very start refuses too.
LEADING_NO = re.compile(
    r"^[¡¿]?(?:no|nope|nein|leider nein|lo siento,? no)"
    r"(?:[,.!;:]|$| (?:sorry|thanks|thank you|lo siento|gracias|danke|leider|unfortunately)\b)"
)

ACCEPT_CUES = _rx(
    r"^accept(?:ed)?",
    r"(?:we|i) (?:gladly |happily |hereby |will |can |'ll |would )?accept",
    rf"(?:we|i) (?:can|could|will|would|'ll|are able to|am able to) {_GAP}accept",
    r"^(?:happy|glad|pleased) to (?:take|accept)",
    rf"(?:we|i) (?:can|could|will|would|'ll|are able to|am able to) {_GAP}take",
    r"(?:we|i) (?:are|'re|am|'m) (?:happy|glad|pleased|able) to (?:take|accept|offer|admit)",
    r"(?:we|i) (?:have|'ve got|have got) (?:a |an |one )?(?:bed|place|spot|space|opening|room)"
    r" (?:for|available)",
    r"(?:count us in|we'll take|we will take|we can take|we can do it)",
    # Spanish
    r"aceptamos|acepto|aceptada|aceptado|aceptar",
    r"(?:podemos|puedo) (?:\w+ )?(?:recibir|tomar|atender|admitir)(?:lo|la|los|las)?",
    r"(?:lo|la|los|las) (?:recibimos|tomamos|atendemos|admitimos)",
    rf"(?:tenemos|hay) (?:una |un )?{_SPACE} (?:para|disponible)",
    # German
    r"akzeptier(?:en|t)|angenommen|zusage|sagen (?:\w+ )?zu",
    rf"(?:konnen|werden|wurden) (?:{_W} ){{0,4}}(?:gerne? )?(?:aufnehmen|annehmen|ubernehmen)",
    rf"nehmen {_GAP}(?:gerne? )?(?:auf|an)(?= |[.,!;]|$)",
    r"(?:nehmen|ubernehmen) (?:ihn|sie|es|den fall)",
)
# "Yes" and its equivalents as the first word; "si" without an accent only before punctuation,
# because "si ..." is also Spanish for "if".
LEADING_YES = re.compile(
    r"^[¡¿]?(?:yes|yep|yeah|sure|absolutely|definitely|ja|jawohl|gerne|si|claro|por supuesto)"
    r"(?=[,.!;:]|$| (?:we|i|but|only|if|pending|please|thanks|thank|gracias|danke|bitte"
    r"|aber|nur|wenn|falls|pero|solo|siempre)\b)"
)
SPANISH_YES = re.compile(r"^sí\b")

# A condition turns a yes into a tentative accept.
STRONG_CONDITIONS = _rx(
    r"if|only|provided|providing|pending|once|as soon as|subject to|assuming|contingent"
    r"|depending on|as long as|conditional|tentative(?:ly)?|provisional(?:ly)?",
    r"si|siempre que|siempre y cuando|pendiente|una vez que|sujeto a|solo|solamente|condicion\w*",
    r"wenn|falls|sofern|vorbehalt\w*|vorausgesetzt|erst|sobald|unter der bedingung",
)
# These name a condition only right before what is pending ("after the visit", "until a bed
# opens"): "We can take her after lunch" is a plain accept.
WEAK_CONDITION = _rx(r"after|until|when|despues de|cuando|hasta|nach|bis|first|primero|zuerst")
# "Let me know if you need anything" sets no condition on the answer.
NOT_CONDITIONS = _rx(
    r"let (?:me|us) know if|if (?:you|there) (?:have|need|are)|if needed|if necessary"
    r"|if possible|if you'd like|if any",
    r"si (?:tiene|necesita|hay) (?:alguna |cualquier )?(?:pregunta|duda)\w*",
    r"(?:wenn|falls) sie (?:fragen|noch fragen)|bei fragen",
)

PROVISION_TOPICS: tuple[tuple[ProvisionReason, re.Pattern[str]], ...] = (
    (
        ProvisionReason.PRE_PLACEMENT_VISIT,
        _rx(
            r"visit(?:s|ed|ing)?|tour|pre-?placement|meet(?:ing)? (?:him|her|them|the \w+)",
            r"interview|visita|visitar|entrevista|besuch\w*|kennenlern\w*|hospitation|probewohnen",
        ),
    ),
    (
        ProvisionReason.FUNDING,
        _rx(
            r"fund(?:s|ing|ed)?|insurance|medicaid|medicare|waiver|authori[sz]ation|payer",
            r"financiacion|financiamiento|fondos|seguro|finanzierung|kostenubernahme"
            r"|kostenzusage|kostentrager|bewilligung",
        ),
    ),
    (
        ProvisionReason.STAFFING,
        _rx(r"staff(?:ing|ed)?|hire|hiring|personnel|personal(?! care)|personalmangel"),
    ),
    (
        ProvisionReason.VACANCY,
        _rx(rf"{_SPACE}|bed opens|frees up|opens up|wird frei|se libera|quede libre"),
    ),
)

DECLINE_TOPICS: tuple[tuple[DeclineReason, re.Pattern[str]], ...] = (
    (
        DeclineReason.NO_VACANCY,
        _rx(
            _SPACE,
            r"full|fully booked|waiting list|wait ?list|waitlist",
            r"llenos?|completos?|lista de espera",
            r"voll|belegt|ausgebucht|warteliste",
        ),
    ),
    (
        DeclineReason.MEDICAL,
        _rx(
            r"medical(?:ly)?|nurs(?:e|es|ing)|medication|diabet\w*|oxygen|g-tube|feeding tube",
            r"medic[oa]s?|enfermer\w*|medizin\w*|pflege\w*|arztlich\w*",
        ),
    ),
    (
        DeclineReason.BEHAVIOURAL,
        _rx(r"behaviou?r\w*|aggress\w*|violen\w*|conducta|comportamiento|verhalten\w*"),
    ),
    (
        DeclineReason.LOCATION,
        _rx(
            r"too far|location|distance|outside (?:of )?our (?:area|county|region|service area)",
            r"(?:don't|do not) serve|lejos|ubicacion|distancia|zu weit|entfernung|einzugsgebiet",
        ),
    ),
    (
        DeclineReason.FUNDING,
        _rx(
            r"fund(?:s|ing|ed)?|insurance|medicaid|medicare|payer|payment|authori[sz]ation",
            r"financiacion|fondos|seguro|finanzierung|kostenubernahme|kostentrager|versicherung",
        ),
    ),
    (
        DeclineReason.STAFFING,
        _rx(r"staff(?:ing|ed)?|short-staffed|personnel|falta de personal|personalmangel"),
    ),
)

GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|greetings|hola|buenos dias"
    r"|buenas(?: tardes| noches)?|estimad[oa]s?|querid[oa]s?|hallo|guten (?:tag|morgen|abend)"
    r"|liebe[rs]?|sehr geehrte[rs]?|moin|servus)\b"
)
# "Thanks for the referral." on its own line says nothing about the decision.
PLEASANTRY = re.compile(
    r"^(?:thanks|thank you|many thanks|gracias|muchas gracias|danke|vielen dank)\b[^.!?]{0,60}"
    r"[.!]?$"
)
# A lone number answers our question ("1", "2.", "Option 2", "#1 please").
CHOICE = re.compile(
    r"^(?:option|opcion|opción|nummer|number|nr\.?|no\.?|#)? ?#?([1-9])(?:[.):!]| ?$"
    r"| ?[-–—,] | (?:please|thanks|thank you|por favor|gracias|bitte|danke)\b)"
)
# A line that is nothing but a command word: its reason may follow on the next line.
BARE_VERBS = {
    "decline": DECLINE,
    "declined": DECLINE,
    "no": DECLINE,
    "tentative": TENTATIVE,
    "provision": TENTATIVE,
    "accept": ACCEPT,
    "accepted": ACCEPT,
    "yes": ACCEPT,
}
