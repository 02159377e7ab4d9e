"""Durable execution: every operation call is a LangGraph task, saved as it finishes.

A graph run that stops during ``execute`` (a crash, a killed process, a
cancelled server run) is resumed by invoking the graph again on the same
thread (``graph.invoke(None, config)``). LangGraph re-runs the interrupted
node from its start; without more, every operation of the program would be
paid for again. So the ``execute`` and ``repair`` nodes hand each operation
call to a LangGraph task (:func:`langgraph.func.task`): the checkpointer saves
a task's result as soon as the call finishes, and when the resumed node asks
for the same task again LangGraph returns the saved result instead of running
it. Only the calls that had not finished are made again.

LangGraph recognises a task by its node's checkpoint, its name and the order
in which the node called it, so the executor submits the calls of a level in
program order from the node's own thread (see
:class:`~langchain_genprog.execute.executor.CallScheduler`); a resumed node
replays the same program over the same sources and asks in the same order.

Two things follow from tasks being part of the run. A finished call that
failed after its retries is saved too (as a trace with an ``error``): resume
does not retry it. And each call's trace also appears in
``stream_mode="updates"``, under ``genprog_operation``, as it finishes.

Without a LangGraph run around it (a node called directly, in a test or a
script) there is nothing to save to: :func:`scheduler_for_run` returns
``None`` and the executor batches the calls as usual.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.runnables.config import var_child_runnable_config
from langgraph.func import task
from pydantic import BaseModel, PrivateAttr

from langchain_genprog.execute.executor import (
    AsyncOperationCall,
    CallScheduler,
    OperationCall,
)
from langchain_genprog.execute.trace import NodeTrace

try:  # the key LangGraph sets in the config of a node that may call tasks
    from langgraph._internal._constants import CONFIG_KEY_CALL
except ImportError:  # pragma: no cover - a LangGraph that moved it
    CONFIG_KEY_CALL = "__pregel_call"

TASK_NAME = "genprog_operation"
"""The tasks' name: in checkpoints, traces and ``stream_mode="updates"``."""


class ScheduledOperation(BaseModel):
    """A task's input: the pending node (shown in traces and streams) and its call.

    The call itself is private: it is not data, and nothing serializes it.
    """

    node: NodeTrace
    _call: Callable[[], Any] = PrivateAttr()

    @classmethod
    def of(cls, node: NodeTrace, call: Callable[[], Any]) -> ScheduledOperation:
        """The request to run ``call`` for ``node``."""
        request = cls(node=node)
        request._call = call
        return request


def genprog_operation(request: ScheduledOperation) -> dict[str, Any]:
    """Run one operation call; its trace as plain data, which every serializer keeps."""
    trace: NodeTrace = request._call()
    return trace.model_dump(mode="json")


async def agenprog_operation(request: ScheduledOperation) -> dict[str, Any]:
    """Async :func:`genprog_operation`."""
    trace: NodeTrace = await request._call()
    return trace.model_dump(mode="json")


# One name for both forms: a run started with ``invoke`` may be resumed with
# ``ainvoke`` (a script, then a server), and a task is found again by its name.
agenprog_operation.__name__ = TASK_NAME
_operation = task(genprog_operation)
_aoperation = task(agenprog_operation)


class TaskScheduler:
    """A :class:`~langchain_genprog.execute.executor.CallScheduler` whose calls are tasks.

    Use it only inside a node of a running graph (see :func:`scheduler_for_run`).
    """

    def submit(self, node: NodeTrace, call: OperationCall) -> concurrent.futures.Future[NodeTrace]:
        """Start ``call`` as a task, or recall its result saved by an earlier attempt."""
        future: concurrent.futures.Future[NodeTrace] = concurrent.futures.Future()
        raw = _operation(ScheduledOperation.of(node, call))
        raw.add_done_callback(lambda done: _settle(done, future))
        return future

    def asubmit(self, node: NodeTrace, call: AsyncOperationCall) -> Awaitable[NodeTrace]:
        """Async :meth:`submit` (Python 3.11+; before, the call runs without a task)."""
        if sys.version_info < (3, 11):  # LangGraph's async tasks need 3.11
            return asyncio.ensure_future(call())
        return _atrace(_aoperation(ScheduledOperation.of(node, call)))


async def _atrace(raw: Awaitable[dict[str, Any]]) -> NodeTrace:
    return NodeTrace.model_validate(await raw)


def _settle(
    done: concurrent.futures.Future[dict[str, Any]], future: concurrent.futures.Future[NodeTrace]
) -> None:
    """Pass a task's outcome on as a trace (or as the exception that stopped it)."""
    error = done.exception()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(NodeTrace.model_validate(done.result()))


def scheduler_for_run() -> CallScheduler | None:
    """A task scheduler inside a LangGraph node that may call tasks, else ``None``."""
    config = var_child_runnable_config.get()
    if config is None or CONFIG_KEY_CALL not in config.get("configurable", {}):
        return None
    return TaskScheduler()
