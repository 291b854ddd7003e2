"""Which CI service runs this session, read from its documented environment variables.

Detection is pure over an environment mapping: no subprocesses, no git, no
filesystem, so it costs nothing at startup and is trivial to test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

PROVIDER_NAMES: dict[str, str] = {
    "github": "GitHub Actions",
    "gitlab": "GitLab CI",
    "circleci": "CircleCI",
    "azure": "Azure Pipelines",
    "buildkite": "Buildkite",
    "jenkins": "Jenkins",
}


@dataclass(frozen=True)
class CiInfo:
    """What the CI service says about the build. Every field is "" when unknown."""

    provider: str = ""
    commit: str = ""
    branch: str = ""
    build: str = ""
    build_url: str = ""

    @property
    def name(self) -> str:
        """The provider as people spell it, "" outside CI."""
        return PROVIDER_NAMES.get(self.provider, self.provider)


Env = Mapping[str, str]


def _get(env: Env, *names: str) -> str:
    """The first non-blank value among names, stripped."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return ""


def _flag(env: Env, name: str) -> bool:
    # Providers spell their marker "true" or "True"; an exported "false" means no.
    return _get(env, name).lower() in {"true", "1", "yes"}


def _strip_prefix(value: str, *prefixes: str) -> str:
    for prefix in prefixes:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def _github(env: Env) -> CiInfo | None:
    if not _flag(env, "GITHUB_ACTIONS"):
        return None
    server, repo, run_id = (
        _get(env, "GITHUB_SERVER_URL"),
        _get(env, "GITHUB_REPOSITORY"),
        _get(env, "GITHUB_RUN_ID"),
    )
    url = f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}" if server and repo and run_id else ""
    return CiInfo(
        provider="github",
        commit=_get(env, "GITHUB_SHA"),
        # On pull requests GITHUB_REF_NAME is "<n>/merge"; GITHUB_HEAD_REF is the real branch.
        branch=_get(env, "GITHUB_HEAD_REF", "GITHUB_REF_NAME"),
        build=_get(env, "GITHUB_RUN_NUMBER"),
        build_url=url,
    )


def _gitlab(env: Env) -> CiInfo | None:
    if not _flag(env, "GITLAB_CI"):
        return None
    return CiInfo(
        provider="gitlab",
        commit=_get(env, "CI_COMMIT_SHA"),
        branch=_get(env, "CI_COMMIT_REF_NAME"),
        # The project-scoped IID is the number people see in the UI.
        build=_get(env, "CI_PIPELINE_IID", "CI_PIPELINE_ID"),
        # The job that ran pytest is a more useful link than its whole pipeline.
        build_url=_get(env, "CI_JOB_URL", "CI_PIPELINE_URL"),
    )


def _circleci(env: Env) -> CiInfo | None:
    if not _flag(env, "CIRCLECI"):
        return None
    return CiInfo(
        provider="circleci",
        commit=_get(env, "CIRCLE_SHA1"),
        # Tag builds have no CIRCLE_BRANCH.
        branch=_get(env, "CIRCLE_BRANCH", "CIRCLE_TAG"),
        build=_get(env, "CIRCLE_BUILD_NUM"),
        build_url=_get(env, "CIRCLE_BUILD_URL"),
    )


def _azure(env: Env) -> CiInfo | None:
    if not _flag(env, "TF_BUILD"):
        return None
    collection, project, build_id = (
        _get(env, "SYSTEM_COLLECTIONURI"),
        _get(env, "SYSTEM_TEAMPROJECT"),
        _get(env, "BUILD_BUILDID"),
    )
    url = ""
    if collection and project and build_id:
        # Project names may hold spaces; the collection URI ends with a slash, usually.
        url = f"{collection.rstrip('/')}/{quote(project)}/_build/results?buildId={quote(build_id)}"
    return CiInfo(
        provider="azure",
        commit=_get(env, "BUILD_SOURCEVERSION"),
        branch=_azure_branch(env),
        build=_get(env, "BUILD_BUILDNUMBER"),
        build_url=url,
    )


def _azure_branch(env: Env) -> str:
    # BUILD_SOURCEBRANCHNAME is only the last path segment ("feature/x" gives "x",
    # a pull request gives "merge"), so full refs are preferred when they name a
    # branch or a tag: the pull request's source first, then the built ref.
    for name in ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH"):
        ref = _strip_prefix(_get(env, name), "refs/heads/", "refs/tags/")
        if ref and not ref.startswith("refs/"):
            return ref
    return _get(env, "BUILD_SOURCEBRANCHNAME")


def _buildkite(env: Env) -> CiInfo | None:
    if not _flag(env, "BUILDKITE"):
        return None
    return CiInfo(
        provider="buildkite",
        commit=_get(env, "BUILDKITE_COMMIT"),
        branch=_get(env, "BUILDKITE_BRANCH"),
        build=_get(env, "BUILDKITE_BUILD_NUMBER"),
        build_url=_get(env, "BUILDKITE_BUILD_URL"),
    )


def _jenkins(env: Env) -> CiInfo | None:
    if not _get(env, "JENKINS_URL"):
        return None
    # The git plugin reports GIT_BRANCH as "origin/main"; the remote name is noise.
    branch = _get(env, "BRANCH_NAME") or _strip_prefix(_get(env, "GIT_BRANCH"), "origin/")
    return CiInfo(
        provider="jenkins",
        commit=_get(env, "GIT_COMMIT"),
        branch=branch,
        build=_get(env, "BUILD_NUMBER"),
        build_url=_get(env, "BUILD_URL"),
    )


# First match wins. Jenkins comes last because JENKINS_URL is a plain URL that
# agents and developer shells often export, while the others set an explicit
# "I am this CI" flag that is far less likely to leak into another service.
_DETECTORS: tuple[Callable[[Env], CiInfo | None], ...] = (
    _github,
    _gitlab,
    _circleci,
    _azure,
    _buildkite,
    _jenkins,
)


def detect(env: Env) -> CiInfo:
    """The CI service described by env, or an empty CiInfo outside CI."""
    for detector in _DETECTORS:
        info = detector(env)
        if info is not None:
            return dataclasses.replace(info, build_url=without_credentials(info.build_url))
    return CiInfo()


def without_credentials(url: str) -> str:
    """The URL with any user and password shown as ***: it goes into titles and
    descriptions, which everyone with access to the release reads."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url if "@" not in url else "***"  # unreadable, and maybe a secret in it
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
