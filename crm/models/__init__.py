"""All models, one module per concept, re-exported here so Alembic and callers see them all."""
from crm.models.activity import (  # noqa: F401
    ACTIVITY_TYPE_CODES,
    ACTIVITY_TYPE_WORDS,
    ACTIVITY_TYPES,
    TRACKS,
    Activity,
    activity_centre,
    activity_municipality,
    types_in_track,
)
from crm.models.anchoring import (  # noqa: F401
    ANCHORING_KINDS,
    ANCHORING_LEVELS,
    ANCHORING_STATES,
    AnchoringEntry,
    AnchoringItem,
)
from crm.models.audit import AuditEntry  # noqa: F401
from crm.models.contact import Contact  # noqa: F401
from crm.models.fidelity import FIDELITY_ITEM_COUNT, FidelityRating, FidelityReview  # noqa: F401
from crm.models.material import (  # noqa: F401
    MATERIAL_KINDS,
    MATERIAL_STATES,
    VERDICTS,
    Material,
    MaterialComment,
    MaterialTransition,
    MaterialVersion,
    material_author,
    material_region,
)
from crm.models.grant import (  # noqa: F401
    AUDITOR_THRESHOLD_ORE,
    EXPENSE_SOURCE_FORM,
    EXPENSE_SOURCE_IMPORT,
    BudgetLine,
    BudgetVersion,
    CostLine,
    Expense,
    Grant,
)
from crm.models.instrument import (  # noqa: F401
    IPS25_CODE,
    VERSION_ACTIVE,
    VERSION_DRAFT,
    VERSION_RETIRED,
    VERSION_STATES,
    Instrument,
    InstrumentBand,
    InstrumentItem,
    InstrumentItemMapping,
    InstrumentVersion,
)
from crm.models.note import Note  # noqa: F401
from crm.models.outcome import OutcomeQuarter  # noqa: F401
from crm.models.plan import (  # noqa: F401
    CooperationPlan,
    TargetGroup,
    plan_centre,
    plan_municipality,
    plan_target_group,
)
from crm.models.psychiatry import PsychiatricCentre  # noqa: F401
from crm.models.region import Municipality, Region  # noqa: F401
from crm.models.stage import (  # noqa: F401
    COVERED_STAGES,
    DEFAULT_STAGE,
    STAGE_CODES,
    STAGES,
    StageChange,
)
from crm.models.user import ROLES, User  # noqa: F401
from crm.models.report import PeriodReopening, ReportSubmission  # noqa: F401
from crm.models.task import TASK_DONE, TASK_OPEN, Task  # noqa: F401
from crm.models.messaging import JobRun, OutboxAttachment, OutboxMessage  # noqa: F401
from crm.models.signin import SignInThrottle  # noqa: F401
from crm.models.saved_report import (  # noqa: F401
    SavedReport,
    SavedReportAddress,
    SavedReportRun,
    saved_report_recipient,
)
from crm.models.second_factor import RecoveryCode, SecondFactor  # noqa: F401
from crm.models.identity import UserIdentity  # noqa: F401
from crm.models.activity_total import ActivityMonthTotal  # noqa: F401
from crm.models.data_version import DataVersion  # noqa: F401
