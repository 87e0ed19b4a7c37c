"""Tag suggestions for posts: which compass quadrant does this text engage?

Use :func:`default_suggester` unless you need a specific strategy::

    from compass.suggest import default_suggester
    suggestion = default_suggester().suggest("How to brew the perfect pour-over")
    suggestion.tags  # (Quadrant.LEARN,) ; () means "no suggestion, ask the user"

Strategies: :class:`LexiconSuggester` (standard library, explains itself),
:class:`BayesSuggester` (standard library, trained on shipped posts; the fallback when the
model weights are missing), :class:`EmbeddingSuggester` (all-MiniLM-L6-v2 run with numpy),
:class:`CombinedSuggester` (both; the default and the best measured, see docs/compass.md).
Importing this package never imports numpy or loads the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from compass.model import Quadrant
from compass.suggest.base import Suggester, Suggestion, ranked
from compass.suggest.bayes import BayesSuggester, LexiconBayesSuggester, shared_bayes
from compass.suggest.combined import CombinedSuggester
from compass.suggest.embedding import Availability, EmbeddingSuggester, available
from compass.suggest.lexicon import DEFAULT_LEXICON, LexiconSuggester

__all__ = [
    "DEFAULT_LEXICON",
    "WORKSPACE_EXAMPLE_WEIGHT",
    "Availability",
    "CombinedSuggester",
    "EmbeddingSuggester",
    "BayesSuggester",
    "LexiconBayesSuggester",
    "LexiconSuggester",
    "Suggester",
    "Suggestion",
    "available",
    "default_suggester",
    "ranked",
]


#: How much a workspace's own confirmed tags count in the combined suggester. Their vote is
#: the similarity-weighted share of the 10 nearest examples (at most 1 per quadrant), so a
#: handful of confirmed tags nudges and many close ones outvote the shipped learning (head
#: 0.6 + Bayes 2.0). Chosen on training posts only (docs/compass.md): teaching with half of a
#: writer's posts and scoring the other half gained 0.5 points, teaching with another
#: writer's posts cost 0.1; weights of 4 and 8 cost 3 and 13 points with another's posts.
WORKSPACE_EXAMPLE_WEIGHT = 2.0


def default_suggester(
    examples: Sequence[tuple[str, Sequence[Quadrant]]] = (),
    *,
    reuse: Suggester | None = None,
) -> Suggester:
    """The best suggester this installation can run.

    With the model installed (``make install`` does it): the combined suggester (embedding,
    trained head, Bayes, lexicon), learning from the workspace's confirmed ``examples`` if
    given. Without it: naive Bayes trained on the shipped posts and the lexicon (it ignores
    examples). The embedding model
    loads lazily on the first suggestion, once per process; cheap to call per request
    without examples. With examples, keep the returned suggester per workspace (the
    examples are encoded on its first use); when they change, pass the old one as
    ``reuse`` so that only the new examples are encoded.
    """
    if available():
        embedding = _shared_embedding()
        if examples:
            previous = reuse.embedding if isinstance(reuse, CombinedSuggester) else None
            embedding = embedding.with_examples(examples, reuse=previous,
                                                example_weight=WORKSPACE_EXAMPLE_WEIGHT)
        return CombinedSuggester(embedding=embedding)
    return shared_bayes()


@lru_cache(maxsize=1)
def _shared_embedding() -> EmbeddingSuggester:
    # One zero-shot instance per process, so its prototype vectors are encoded once.
    return EmbeddingSuggester()
