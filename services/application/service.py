"""Application service entrypoints. Thin: each RPC hands over to the service-layer modules."""
from services.application import reference
from services.chassis import base
from services.chassis.entrypoints import rpc


class ApplicationService(base.ServiceBase):
    name = "application"

    @rpc
    def agreements(self):
        return reference.list_agreements(self.db.session)

    @rpc
    def agreement(self, code):
        return reference.get_agreement(self.db.session, code)

    @rpc
    def units(self):
        return reference.list_units()

    @rpc
    def countries(self):
        return reference.list_countries()

    @rpc
    def currencies(self):
        return reference.list_currencies()

    @rpc
    def hs_code(self, code):
        return reference.lookup_hs(self.db.session, code)

    @rpc
    def hs_status(self):
        return reference.nomenclature_status(self.db.session)

    @rpc
    def hs_import_start(self, source):
        return reference.start_hs_import(self.db.session, source)

    @rpc
    def hs_import_rows(self, import_id, rows):
        return reference.add_hs_rows(self.db.session, import_id, rows)

    @rpc
    def hs_import_activate(self, import_id):
        return reference.activate_hs_import(self.db.session, import_id)

    @rpc
    def hs_import_csv(self, text, source):
        return reference.import_hs_csv(self.db.session, text, source)
