"""Text operations: paraphrase, compression, fusion and extract.

They are what program nodes execute, and they are also LangChain tools for
agents that build cited sentences themselves.
"""

from langchain_genprog.operations.prompts import (
    COMPRESSION_PROMPT,
    FUSION_PROMPT,
    PARAPHRASE_PROMPT,
    InvalidOutputError,
    build_messages,
    clean_output,
)
from langchain_genprog.operations.tools import (
    CompressionInput,
    CompressionTool,
    ExtractInput,
    ExtractTool,
    FusionInput,
    FusionTool,
    OperationOutput,
    OperationResult,
    ParaphraseInput,
    ParaphraseTool,
    arun_operation,
    create_operation_tools,
    extract_text,
    run_operation,
)

__all__ = [
    "COMPRESSION_PROMPT",
    "FUSION_PROMPT",
    "PARAPHRASE_PROMPT",
    "CompressionInput",
    "CompressionTool",
    "ExtractInput",
    "ExtractTool",
    "FusionInput",
    "FusionTool",
    "InvalidOutputError",
    "OperationOutput",
    "OperationResult",
    "ParaphraseInput",
    "ParaphraseTool",
    "arun_operation",
    "build_messages",
    "clean_output",
    "create_operation_tools",
    "extract_text",
    "run_operation",
]
