"""The words a person reads for the application form's fields (the contract's names are for
programs): one table, marked for the catalogues, translated where a page shows them. A field
the contract gains without a word here fails a test."""

from portal.catalogues import N_

FIELD_WORDS = {
    # importer, declaration
    "name": N_("Name"),
    "country": N_("Country"),
    "address": N_("Address"),
    "goods_available_at": N_("Where the goods can be inspected"),
    "origin_grounds": N_("Grounds for the origin"),
    "place": N_("Place"),
    "designation": N_("Designation"),
    # transport, invoice
    "mode": N_("Mode"),
    "vessel_or_flight": N_("Vessel or flight"),
    "port_of_loading": N_("Port of loading"),
    "port_of_discharge": N_("Port of discharge"),
    "departure_date": N_("Departure date"),
    "number": N_("Number"),
    "date": N_("Date"),
    # products and their raw materials
    "hs_code": N_("HS code"),
    "description": N_("Description"),
    "quantity": N_("Quantity"),
    "unit": N_("Unit (UQC)"),
    "fob_currency": N_("FOB currency"),
    "fob_value": N_("FOB value (in that currency)"),
    "fob_inr": N_("FOB value in INR"),
    "marks_and_numbers": N_("Marks and numbers"),
    "packages": N_("Number and kind of packages"),
    "preference_criterion": N_("Origin criterion"),
    "unit_cif_value": N_("CIF value per unit (INR)"),
    "total_cif_value": N_("Total CIF value (INR)"),
    "origin_country": N_("Country of origin"),
    "bill_of_entry_or_invoice_no": N_("Bill of entry or invoice number"),
    "invoice_date": N_("Invoice date"),
    "supplier": N_("Supplier"),
}
