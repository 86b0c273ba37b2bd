"""An auth manager for the UI test's real api-server: SimpleAuthManager (its login, its tokens),
except that the user ``outsider`` may not read the DAG ``word2vec_embeddings``.

SimpleAuthManager lets every role read every DAG, so without this no user could be refused.
Configured with ``AIRFLOW__CORE__AUTH_MANAGER=tests.e2e.ui_auth_manager.OutsiderDeniedAuthManager``.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

DENIED_USER = "outsider"
DENIED_DAG = "word2vec_embeddings"


class OutsiderDeniedAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        if user.get_name() == DENIED_USER and (details is None or details.id in (None, DENIED_DAG)):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
