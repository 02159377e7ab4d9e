"""The program owns its nodes: one node type, one key, for the executor, the refiner and traces."""

from __future__ import annotations

from langchain_genprog.execute import NodeTrace
from langchain_genprog.program.model import NodeRef, Program, ProgramNode
from langchain_genprog.program.parser import parse_program
from langchain_genprog.refine import NodeCheck
from langchain_genprog.refine import NodeRef as RefineNodeRef


def program(text: str) -> Program:
    return parse_program(text).program


def test_nodes_are_in_post_order_with_inputs_parents_heights_and_leaves() -> None:
    nodes = program('- paraphrase(fusion(S2, compression(S1), S2), instruction="x")').nodes()
    assert [(n.ref.path, n.operation, n.height) for n in nodes] == [
        ("0.0.1", "compression", 1),
        ("0.0", "fusion", 2),
        ("0", "paraphrase", 3),
    ]
    compression, fusion, root = nodes
    assert compression.inputs == (1,) and compression.parent == fusion.ref
    assert fusion.inputs == (2, compression.ref, 2) and fusion.parent == root.ref
    assert fusion.leaf_ids == (2, 1)
    assert root.inputs == (fusion.ref,) and root.parent is None
    assert root.instruction == "x" and root.ref == NodeRef.root(1)


def test_a_bare_sentence_line_is_one_extract_node_of_height_zero() -> None:
    (node,) = program("- S3").nodes()
    assert node == ProgramNode(
        ref=NodeRef(line=1, path="0"), operation="extract", inputs=(3,), height=0, leaf_ids=(3,)
    )


def test_program_nodes_go_line_by_line_and_keys_are_unique() -> None:
    nodes = program("- fusion(S1, S2)\n- S3\n- compression(paraphrase(S4))").nodes()
    assert [str(n.ref) for n in nodes] == [
        "line 1 node 0",
        "line 2 node 0",
        "line 3 node 0.0",
        "line 3 node 0",
    ]
    assert len({n.ref for n in nodes}) == len(nodes)


def test_traces_checks_and_the_refiner_share_the_key() -> None:
    trace = NodeTrace(line=2, path="0.1", operation="fusion")
    check = NodeCheck(line=2, path="0.1", operation="fusion", supported=True, score=1.0)
    assert trace.ref == check.ref == NodeRef(line=2, path="0.1")
    assert RefineNodeRef is NodeRef
