"""Programs: the typed model, the text-syntax parser, validation and decoders' schemas."""

from langchain_genprog.program.grammar import END_MARKER, program_line_grammar
from langchain_genprog.program.model import (
    OPERATIONS,
    Call,
    NodeRef,
    Operation,
    Program,
    ProgramLine,
    ProgramNode,
    SentenceRef,
)
from langchain_genprog.program.parser import ParseResult, parse_program, parse_program_strict
from langchain_genprog.program.schema import OperationSpec, ProgramSpec, spec_to_program
from langchain_genprog.program.validation import ProgramLimits, ValidationResult, validate_program

__all__ = [
    "END_MARKER",
    "OPERATIONS",
    "Call",
    "NodeRef",
    "Operation",
    "OperationSpec",
    "ParseResult",
    "Program",
    "ProgramLimits",
    "ProgramLine",
    "ProgramNode",
    "ProgramSpec",
    "SentenceRef",
    "ValidationResult",
    "parse_program",
    "parse_program_strict",
    "program_line_grammar",
    "spec_to_program",
    "validate_program",
]
