"""``nb2pipe verify``: prove that the pipeline computes what the notebook computed.

``verify(notebook)`` converts the notebook into a scratch folder (or takes an existing
package), runs the pipeline with the runtime and an instrumented copy of the notebook
with papermill, with the same parameters, and compares every step's outputs.
"""

from nb2pipe.verify.compare import Comparer, Outcome, Tolerance
from nb2pipe.verify.core import verify
from nb2pipe.verify.kernel import VerifyError
from nb2pipe.verify.result import Row, VerifyResult

__all__ = ["Comparer", "Outcome", "Row", "Tolerance", "VerifyError", "VerifyResult", "verify"]
