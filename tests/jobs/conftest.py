from tests.fixtures.background import fast_settings, manager_app, manager_client, tenant_id

__all__ = ["fast_settings", "manager_app", "manager_client", "tenant_id"]
