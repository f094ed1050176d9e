from django.apps import AppConfig


def broken_start() -> None:
    raise RuntimeError("a broken worker start step")


def broken_minute() -> None:
    raise RuntimeError("a broken minute step")


class BrokenStepsConfig(AppConfig):
    name = "tests.sync.broken_steps"
    label = "broken_steps"

    def ready(self) -> None:
        from feeds import tick

        tick.on_worker_start("broken", broken_start)
        tick.every_minute("outputs", broken_minute)  # after the real one: replaces it
