"""Production entry point: app = create_app(); runs the scheduler too when SCHEDULER_IN_APP=1."""
from app import create_app

app = create_app()

if app.config["SCHEDULER_IN_APP"]:
    from app.scheduler import start_in_process

    start_in_process(app.extensions["database"], app.config)
