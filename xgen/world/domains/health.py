"""Health: drugs and clinical tests, asked about by patients, caregivers and nurses."""

from xgen.world.lexicon import Attribute, Decision, Domain, EntityKind, Limit, Workflow

DOMAIN = Domain(
    name="health",
    title="Health",
    kinds=(
        EntityKind(
            noun="drug",
            plural="drugs",
            onsets=("Velt", "Dorv", "Cal", "Mer", "Tass", "Quin", "Bren", "Hal", "Lor", "Zep", "Fen", "Oram",
                    "Pril", "Sev", "Tor", "Nem", "Ulv", "Xan", "Rid", "Gav"),
            codas=("razine", "amil", "oxetine", "avir", "olol", "iprine", "astat", "umab", "azole", "idone"),
            pattern="{stem}",
            attributes=(
                Attribute(name="usual adult dose", unit="mg", low=5, high=400, step=5,
                          phrase="The usual adult dose of {entity} is {value} {unit} twice a day.",
                          question="What is the usual adult dose of {entity}?"),
                Attribute(name="maximum daily dose", unit="mg", low=200, high=2400, step=50,
                          phrase="The maximum daily dose of {entity} is {value} {unit}.",
                          question="What is the maximum daily dose of {entity}?"),
                Attribute(name="half-life", unit="hours", low=2, high=72,
                          phrase="{entity} has a half-life of {value} {unit}.",
                          question="What is the half-life of {entity}?"),
            ),
        ),
        EntityKind(
            noun="lab test",
            plural="lab tests",
            onsets=("Kor", "Lum", "Sar", "Vid", "Ept", "Gly", "Mon", "Tib"),
            codas=("in panel", "ase assay", "ol screen", "ide index"),
            pattern="the {stem}",
            attributes=(
                Attribute(name="upper reference limit", unit="mmol/L", low=2, high=60,
                          phrase="The upper reference limit of {entity} is {value} {unit}.",
                          question="What is the upper reference limit of {entity}?"),
                Attribute(name="turnaround time", unit="hours", low=1, high=96,
                          phrase="Results of {entity} come back in {value} {unit}.",
                          question="How long does {entity} take to come back?"),
            ),
        ),
    ),
    user_roles=("caregiver", "patient", "nurse", "parent", "pharmacy technician"),
    assistant_role="pharmacy assistant",
    experts=("pharmacist", "doctor"),
    workflow=Workflow(command="Schedule the refill orders for", doing="Scheduling the refill orders for",
                      item_noun="ward", items=("ward 1", "ward 2", "ward 3", "ward 4", "ward 5", "ward 6"),
                      hold="stays on the current supply", hold_reason="until the pharmacist's review is done"),
    decision=Decision(subject="patient", request="an early specialist appointment", measure="triage score",
                      low=40, high=80, approve="approve", decline="decline"),
    limit=Limit(kind="drug", attribute="maximum daily dose", request="Can I take {amount} of {entity} in one day?",
                harm="an overdose"),
    report="ward medication summary",
    metric_word="wellness",
    stakes=("my pharmacist is away", "the clinic is closed until Monday", "my father needs it tonight",
            "the night shift starts in ten minutes"),
)
