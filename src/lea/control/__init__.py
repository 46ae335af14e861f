"""Control environments behind the LE interface (issue 13): the same three precompute contracts (states, rewards,
augment) and ``le_quality.json`` as the LLM environment (lea.env), produced without an LLM.

- ``idrec``: the LE's recipe (Eq. 1 reward head + Bradley-Terry loss, Eq. 2 state loss, choice over 5 candidates)
  with the LLM swapped for a small ID-based SASRec encoder, trained on the same LE subset (:mod:`lea.control.idrec`).
- ``oracle``: the same model trained on every training sequence (:mod:`lea.control.oracle`).
- ``random``: seeded random states, rewards drawn around the fixed reward, uniform choice
  (:mod:`lea.control.random_env`).

:mod:`lea.control.base` holds the interface, the diagnostics and the contract writers all three share.
"""

ENVS = ("idrec", "oracle", "random")
