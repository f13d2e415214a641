"""ExamAudit: evidence from exam-room video for safety-training audits."""

__version__ = "0.1.0"
