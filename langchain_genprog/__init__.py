"""langchain-genprog: verifiable, sentence-level cited answers for LangChain and LangGraph."""
