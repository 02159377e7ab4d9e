"""The planner's prompts (our own wording).

The system prompt teaches the operation vocabulary with one worked example
whose ids and topic are unrelated to any real input, so that a model that
copies its example still has to choose real ids (and, under a grammar, can
only choose offered ones).
"""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate

SYSTEM = """You write programs that build an answer from numbered source sentences.
Each program line produces one answer sentence from source sentences with these operations:
- paraphrase(X): reword X
- compression(X): shorten X to its key fact
- fusion(X, Y, ...): merge two or more inputs into one sentence
- extract(S3): copy source sentence S3 word for word
X is a source sentence id such as S3, or another operation. Any operation may end with
instruction="..." to guide it. Write one line per answer sentence, each starting with "- ".
Use only the sentence ids listed in the sources. Write only the program, nothing else.

Example
Sources:
S1: The city council approved the new riverside park on Monday.
S2: Construction of the park will cost about $2 million and start in May.
S3: Residents had campaigned for more green space for a decade.
S4: The mayor called the vote a historic day for the city.
Question: What did the council decide?
Program:
- fusion(S1, compression(S2))
- paraphrase(S3, instruction="say why the park matters")"""

QUESTION_TASK = "Question: {question}"
SUMMARY_TASK = "Task: summarize the sources in a few sentences."

USER = """Sources:
{sources}

{task}
Program:"""

NEXT_LINE = """Sources:
{sources}

{task}
Program so far:
{so_far}
Write the next program line, or END if the answer is complete."""

RETRY = """Your program has these problems:
{issues}
Write the whole program again and fix them. Write only the program lines."""

PLAN_PROMPT = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", USER)])
NEXT_LINE_PROMPT = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", NEXT_LINE)])


def task_text(question: str | None) -> str:
    """The task line: the question, or a summarization request."""
    if question and question.strip():
        return QUESTION_TASK.format(question=question.strip())
    return SUMMARY_TASK
