"""Graders: rubric checks, whole-response guards, rubric grading and the generic-helpfulness reward."""

from xgen.graders import choices  # registers the form and choice checks
from xgen.graders import judge  # registers the judge-model criterion kind
from xgen.graders.checks import Reply, get_check, known_checks, register_check
from xgen.graders.generic import generic_helpfulness
from xgen.graders.rubric import Grade, grade
from xgen.graders.stance import refuses as is_refusal

__all__ = ["Grade", "choices", "judge", "Reply", "generic_helpfulness", "get_check", "grade", "is_refusal",
           "known_checks", "register_check"]
