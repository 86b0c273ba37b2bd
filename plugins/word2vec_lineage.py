"""OpenLineage for the pipeline's operators: what each step read and wrote.

Airflow's OpenLineage provider (``apache-airflow-providers-openlineage``) asks an operator for its
lineage once the task has run, through ``get_openlineage_facets_on_complete`` (and
``get_openlineage_facets_on_failure``), when a transport is configured (``[openlineage] transport``
or ``AIRFLOW__OPENLINEAGE__TRANSPORT``; docs/lineage.md). :class:`StepLineageMixin` answers from the
operator's rendered arguments and what its step returned (kept in memory by ``execute``), through
:func:`include.lineage.steps.step_lineage`: no I/O, and nothing imported until the provider asks.
Without a transport the provider asks nothing and none of this runs.

This module is loaded by every Airflow process (it sits in plugins/): it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


def operator_lineage(step: str, args: Mapping[str, Any], result: Mapping[str, Any] | None) -> OperatorLineage:
    """The provider's ``OperatorLineage`` of task ``step`` (a key of :data:`include.lineage.steps.STEPS`)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    from include.lineage.steps import Place, step_lineage
    from include.settings import lineage_file_host
    from include.storage.paths import data_root_location

    lineage = step_lineage(step, args, result, Place(data_root_location(), lineage_file_host()))
    return OperatorLineage(inputs=lineage.inputs, outputs=lineage.outputs, run_facets=lineage.run_facets)


class StepLineageMixin:
    """Lineage of one pipeline step, for the OpenLineage provider. An operator sets :attr:`step` (its
    module in ``include/steps/``) and stores what the step returned in :attr:`step_result`."""

    #: the step's name: its module in include/steps/ and its function in include/lineage/steps.py
    step: ClassVar[str] = ""
    #: what the step returned in this task (``None`` before it returns, or when it failed)
    step_result: Mapping[str, Any] | None = None

    def _lineage_arguments(self) -> dict[str, Any]:
        """The operator's template fields as rendered; one still a template or an XCom reference (the
        task failed before rendering) is left out rather than reported as a location."""
        arguments = {}
        for name in getattr(self, "template_fields", ()):
            value = getattr(self, name, None)
            if isinstance(value, str) and "{{" in value:
                continue
            if value is None or isinstance(value, str | int | float | bool | list | dict):
                arguments[name] = value
        return arguments

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return operator_lineage(self.step, self._lineage_arguments(), self.step_result)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        return operator_lineage(self.step, self._lineage_arguments(), None)
