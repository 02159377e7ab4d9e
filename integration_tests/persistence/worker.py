"""One graph process for the persistence tests: start or resume a thread, then exit.

Run as ``python -m integration_tests.persistence.worker`` from the repository
root. The model is the counting fake (no weights), slowed down so that a test
can kill the process while an operation call is in flight; every call is
logged to ``--log`` with this process's id. The checkpointer is a real
``SqliteSaver`` (``sqlite:<path>``) or ``PostgresSaver`` (``postgres:<dsn>``).
On success it prints one JSON line: the answer, the thread's next nodes and
the number of operation calls this process made.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from langchain_genprog.graph import build_genprog_graph, with_genprog_types
from tests.unit_tests.counting import DOCS, OTHER_DOCS, CountingModel

QUESTION = "What was decided?"


@contextmanager
def open_saver(spec: str) -> Iterator[BaseCheckpointSaver[Any]]:
    """The checkpointer named by ``sqlite:<path>`` or ``postgres:<dsn>``."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        connection = sqlite3.connect(where, check_same_thread=False)
        try:
            yield SqliteSaver(connection)
        finally:
            connection.close()
    elif kind == "postgres":
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(where) as saver:
            yield saver
    else:
        raise SystemExit(f"unknown checkpointer {spec!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpointer", required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--other-docs", action="store_true")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--stop-before", default=None)
    args = parser.parse_args(argv)

    llm = CountingModel(delay=args.delay, log_path=args.log)
    documents = OTHER_DOCS if args.other_docs else DOCS
    config: Any = {"configurable": {"thread_id": args.thread}}
    with open_saver(args.checkpointer) as saver:
        graph = build_genprog_graph(
            llm, plan_mode="text", max_concurrency=args.concurrency
        ).compile(
            checkpointer=with_genprog_types(saver),
            interrupt_before=[args.stop_before] if args.stop_before else None,
        )
        inputs = None if args.resume else {"question": QUESTION, "documents": documents}
        state = graph.invoke(inputs, config)
        snapshot = graph.get_state(config)
    print(
        json.dumps(
            {
                "answer": state.get("answer"),
                "next": list(snapshot.next),
                "operation_calls": len(llm.started),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
