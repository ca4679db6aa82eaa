"""Production entry point: app = create_app(); runs the scheduler and queue workers too when SCHEDULER_IN_APP=1 and
TASKS_IN_APP=1 (`make run`)."""
from app import create_app

app = create_app()

if app.config["SCHEDULER_IN_APP"]:
    from app.scheduler import start_in_process

    start_in_process(app.extensions["database"], app.config)

if app.config["TASKS_IN_APP"]:
    from app.tasks.runtime import start_in_process as start_task_workers

    start_task_workers(app, app.config["TASK_WORKERS_IN_APP"])
