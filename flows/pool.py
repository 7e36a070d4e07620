"""``dossier deploy --pool NAME``: the scheduled jobs of :func:`flows.serve.schedules` as
deployments on a Prefect work pool (process type), so that any number of
``prefect worker start --pool NAME`` processes, on any machines configured from the same
environment (database, store, intake), run them. Migrations run once however many workers
start together (:func:`models.locks.lock_migrations`).
"""

from __future__ import annotations

from typing import Any

from config import Settings
from flows.serve import deployments, schedules


def ensure_process_pool(name: str) -> bool:
    """Create the work pool (process type) unless it exists; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True


def deploy_to_pool(settings: Settings, pool: str) -> list[dict[str, Any]]:
    """Register every job that is switched on as a deployment on ``pool``; one row each."""
    ensure_process_pool(pool)
    jobs = [job for job in schedules(settings) if job.off is None]
    rows = []
    for job, deployment in zip(jobs, deployments(settings), strict=True):
        deployment_id = deployment.apply(work_pool_name=pool)
        rows.append(
            {
                "deployment": f"{deployment.flow_name}/{deployment.name}",
                "label": job.label,
                "schedule": job.cron or f"每 {job.interval} 秒",
                "timezone": settings.schedule_timezone if job.cron else None,
                "pool": pool,
                "id": str(deployment_id),
            }
        )
    return rows
