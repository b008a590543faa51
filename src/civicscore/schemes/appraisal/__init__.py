"""Performance appraisals: weighted indicator scorecards.

One scheme, one package, read top to bottom:

* ``scheme`` compiles the policy's section into the scheme and its plan (the
  scheme's meaning, written once) and decides one record at a time by running
  that plan as generated Python;
* ``words`` holds the reasons' templates, which both engines render;
* ``batch`` runs the same plan as one lazy polars query for a file of records.
  It needs polars (``pip install 'civicscore[batch]'``) and is imported only
  when a batch run asks for it (``SchemeSpec.batch_engine``), so the
  per-record path never loads it.
"""

from .cards import compile_appraisal
from .scheme import AppraisalDecision, AppraisalResult, AppraisalScheme

__all__ = ['AppraisalDecision', 'AppraisalResult', 'AppraisalScheme', 'compile_appraisal']
