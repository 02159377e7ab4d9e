"""Step 2 — plan: a chat model writes a program; validation and re-prompting keep it sound."""

from langchain_genprog.plan.planner import PlanAttempt, PlanMode, PlanResult, ProgramPlanner

__all__ = ["PlanAttempt", "PlanMode", "PlanResult", "ProgramPlanner"]
