"""An invoice workflow that takes and returns ``Money`` (see ``money.py``)."""

from decimal import Decimal

from hotmesh_temporal import workflow

# The converter and the workflow must see the same Money class: under temporalio the
# workflow sandbox would otherwise import its own copy, which the converter would not
# recognise.
with workflow.unsafe.imports_passed_through():
    from samples.custom_converter.money import Money


@workflow.defn
class InvoiceWorkflow:
    @workflow.run
    async def run(self, net: Money) -> Money:
        vat = (net.amount * Decimal("0.20")).quantize(Decimal("0.01"))
        return Money(net.amount + vat, net.currency)
