from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(extra)
    return env


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = run_python(
        "import courier_web.config.settings.production",
        clean_env(COURIER_WEB_HOME=str(tmp_path)),
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_start_with_a_secret_key(tmp_path: Path) -> None:
    result = run_python(
        "import courier_web.config.settings.production as s; print(s.DEBUG)",
        clean_env(COURIER_WEB_HOME=str(tmp_path), DJANGO_SECRET_KEY="x" * 60),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_default_database_is_a_sqlite_file_under_courier_web_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_python(
        "import courier_web.config.settings.base as s; print(s.DATABASES['default']['NAME'])",
        clean_env(COURIER_WEB_HOME=str(home)),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(home / "var" / "web.sqlite3")
    assert (home / "var").is_dir()


def test_password_hashers_can_be_overridden_from_the_environment(tmp_path: Path) -> None:
    result = run_python(
        "import courier_web.config.settings.base as s; print(s.PASSWORD_HASHERS)",
        clean_env(
            COURIER_WEB_HOME=str(tmp_path),
            DJANGO_PASSWORD_HASHERS="django.contrib.auth.hashers.MD5PasswordHasher",
        ),
    )

    assert result.stdout.strip() == "['django.contrib.auth.hashers.MD5PasswordHasher']"
