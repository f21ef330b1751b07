"""Medication-allergy matching for prescriptions (seed 004 sections 10 and 11.4: "System
must warn if prescribed medication matches patient allergies").

Pure functions, no database. A medication conflicts with a recorded allergy when

* a word of the allergy (ignoring words such as "allergy", "rash", "severe") is a word of
  the medication name, case-insensitive, a trailing plural "s" ignored ("Penicillin" vs
  "penicillin V 500 mg", "Amoxicillin" vs "amoxicillin"); or
* the allergy names a drug class (or a drug that stands for one, e.g. aspirin) and the
  medication name contains a member of that class.

Drug-class table (deliberately small; not a substitute for a pharmacy knowledge base), from
the WHO ATC classification (WHO Collaborating Centre for Drug Statistics Methodology,
ATC/DDD Index) and the BNF chapter groupings:

* penicillins: ATC J01CA/J01CE/J01CF/J01CR (amoxicillin, ampicillin, benzylpenicillin,
  phenoxymethylpenicillin, flucloxacillin, piperacillin...).
* cephalosporins: ATC J01DB-J01DE (cefalexin, cefuroxime, ceftriaxone...).
* sulfonamides ("sulfa"): ATC J01E (sulfamethoxazole, co-trimoxazole, sulfadiazine) and
  sulfasalazine (A07EC01).
* NSAIDs, and aspirin (NSAID-exacerbated respiratory disease cross-reacts across COX-1
  inhibitors: EAACI/ENDA position paper, Kowalski et al., Allergy 2019;74:28-39): ATC M01A
  and N02BA (ibuprofen, naproxen, diclofenac, aspirin...).
* macrolides (J01FA), tetracyclines (J01AA), fluoroquinolones (J01MA), opioids (N02A).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PENICILLINS = frozenset({
    "penicillin", "amoxicillin", "amoxycillin", "ampicillin", "benzylpenicillin",
    "phenoxymethylpenicillin", "flucloxacillin", "cloxacillin", "dicloxacillin",
    "oxacillin", "nafcillin", "piperacillin", "ticarcillin", "temocillin", "pivmecillinam",
    "co-amoxiclav", "amoxiclav", "augmentin", "tazocin",
})
_CEPHALOSPORINS = frozenset({
    "cefalexin", "cephalexin", "cefadroxil", "cefazolin", "cefaclor", "cefuroxime",
    "cefoxitin", "cefixime", "cefotaxime", "ceftriaxone", "ceftazidime", "cefepime",
    "cefpodoxime", "ceftaroline",
})
_SULFONAMIDES = frozenset({
    "sulfamethoxazole", "sulphamethoxazole", "co-trimoxazole", "cotrimoxazole", "bactrim",
    "septrin", "sulfadiazine", "sulfasalazine", "sulphasalazine", "sulfisoxazole",
})
_NSAIDS = frozenset({
    "aspirin", "acetylsalicylic", "ibuprofen", "naproxen", "diclofenac", "ketorolac",
    "indomethacin", "indometacin", "ketoprofen", "flurbiprofen", "piroxicam", "meloxicam",
    "celecoxib", "etoricoxib", "mefenamic", "nabumetone", "etodolac",
})
_MACROLIDES = frozenset({"erythromycin", "azithromycin", "clarithromycin"})
_TETRACYCLINES = frozenset({"tetracycline", "doxycycline", "minocycline",
                            "oxytetracycline", "lymecycline"})
_FLUOROQUINOLONES = frozenset({"ciprofloxacin", "levofloxacin", "moxifloxacin",
                               "ofloxacin", "norfloxacin"})
_OPIOIDS = frozenset({"morphine", "codeine", "oxycodone", "hydrocodone", "hydromorphone",
                      "tramadol", "fentanyl", "pethidine", "meperidine", "tapentadol",
                      "methadone", "buprenorphine"})

#: Allergy word -> the medication words it excludes (besides itself).
DRUG_CLASSES: dict[str, frozenset[str]] = {
    "penicillin": _PENICILLINS, "beta-lactam": _PENICILLINS | _CEPHALOSPORINS,
    "cephalosporin": _CEPHALOSPORINS,
    "sulfa": _SULFONAMIDES, "sulpha": _SULFONAMIDES, "sulfonamide": _SULFONAMIDES,
    "sulphonamide": _SULFONAMIDES,
    "nsaid": _NSAIDS, "aspirin": _NSAIDS, "salicylate": _NSAIDS,
    "macrolide": _MACROLIDES, "tetracycline": _TETRACYCLINES,
    "fluoroquinolone": _FLUOROQUINOLONES, "quinolone": _FLUOROQUINOLONES,
    "opioid": _OPIOIDS, "opiate": _OPIOIDS,
}

_IGNORED = frozenset({
    "allergy", "allergies", "allergic", "to", "rash", "severe", "mild", "moderate",
    "reaction", "reactions", "intolerance", "anaphylaxis", "hives", "urticaria", "and",
    "or", "the", "of", "drug", "drugs", "class", "with", "history", "known", "suspected",
    "tablet", "tablets", "mg", "oral",
})
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _words(text: str) -> set[str]:
    out: set[str] = set()
    for word in _WORD.findall(text.lower()):
        out.add(word)
        if len(word) > 3 and word.endswith("s"):
            out.add(word[:-1])  # plural: "penicillins", "nsaids", "sulfonamides"
        out.update(part for part in word.split("-") if part)
    return out


def conflicts(medication_name: str, allergies: Iterable[str]) -> list[str]:
    """The recorded allergies (as written) that ``medication_name`` matches; empty when
    none. See the module docstring for the matching rules and the drug-class table."""
    med = _words(medication_name)
    found: list[str] = []
    for allergy in allergies:
        words = {w for w in _words(allergy) if w not in _IGNORED and len(w) >= 3}
        hit = bool(words & med)
        if not hit:
            for word in words:
                members = DRUG_CLASSES.get(word)
                if members is not None and members & med:
                    hit = True
                    break
        if hit:
            found.append(allergy)
    return found
