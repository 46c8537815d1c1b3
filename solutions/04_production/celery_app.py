"""The Celery app, bound to the Flask app so that every task runs inside its app context."""

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    """Make the Celery app from app.config["CELERY"] and keep it in app.extensions."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # Run the task body (self.run) inside `app`'s app context, so that db.session and
            # current_app work in the worker exactly as they do in a request.
            # Exercise 3.2: run every task inside the Flask app context.
            ### BEGIN SOLUTION
            with app.app_context():
                return self.run(*args, **kwargs)
            ### END SOLUTION

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.set_default()  # @shared_task in tasks.py binds to this app
    app.extensions["celery"] = celery
    return celery
