"""Trial arms shared by the treatment families: the default arms and their order."""

from __future__ import annotations

import pandas as pd

from il6fit.simulate import SCENARIOS

#: Arm labels of the simulated trial and their tocilizumab doses, mg/kg IV q4w.
DEFAULT_ARMS = {arm.label: arm.dose for arm in SCENARIOS["ra_tcz_trial"].arms}

#: What the ``arms`` option of a treatment family says (its config description).
ARMS_DOC = (
    "TRT01P label -> tocilizumab dose in mg/kg; exactly one arm with dose 0 (control). "
    "Defaults to the simulated trial's arms. Subjects in other arms are left out."
)

#: JSON Schema keywords of the ``arms`` option: doses are numbers, at least 0.
ARMS_SCHEMA = {"additionalProperties": {"type": "number", "minimum": 0}}


def arm_order(table: pd.DataFrame) -> list[str]:
    """Arms ordered by dose, control first.

    Parameters
    ----------
    table : pandas.DataFrame
        An analysis table with ``arm`` and ``dose``.

    Returns
    -------
    list of str
    """
    doses = table.groupby("arm")["dose"].first().sort_values(kind="stable")
    return list(doses.index)
