"""QA benchmark: the same answerer without retrieval, with one search, and with the agentic loop.

Items come from MCQ / image-MCQ JSONL (``question``, ``options``, ``answer`` letter, optional ``image`` and
``gold``) or yes/no and open questions (``answer`` is text; scored by exact match and token recall). A bad row
is recorded as a failed item and the run goes on. Besides accuracy the report gives the accuracy on negated
questions (as the answerer read them with their evidence: ``evidence.read_with_evidence``), expected calibration
error with a reliability diagram, the paired bootstrap interval of each mode's difference from ``rag``, the LLM's
unusable replies, and (``folds``) the offline answerer's weights and open-answer confidence map refit on all but one
group of chapters and scored on the held-out one. Chance stands beside every mode, for accuracy and for evidence hit@5
(``hit_chance``), and a searching mode below no-rag or chance is marked (``mark_losses``).

Each name is imported from the module that defines it.
"""
