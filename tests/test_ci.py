from __future__ import annotations

import pytest

from pytest_hawzu.ci import PROVIDER_NAMES, CiInfo, detect

SHA = "0123456789abcdef0123456789abcdef01234567"

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SHA": SHA,
    "GITHUB_REF_NAME": "main",
    "GITHUB_RUN_NUMBER": "42",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "9001",
}
GITLAB = {
    "GITLAB_CI": "true",
    "CI_COMMIT_SHA": SHA,
    "CI_COMMIT_REF_NAME": "main",
    "CI_PIPELINE_IID": "42",
    "CI_PIPELINE_ID": "777777",
    "CI_JOB_URL": "https://gitlab.com/acme/shop/-/jobs/5",
    "CI_PIPELINE_URL": "https://gitlab.com/acme/shop/-/pipelines/777777",
}
JENKINS = {
    "JENKINS_URL": "https://jenkins.example/",
    "GIT_COMMIT": SHA,
    "BRANCH_NAME": "main",
    "BUILD_NUMBER": "42",
    "BUILD_URL": "https://jenkins.example/job/shop/42/",
}
CIRCLECI = {
    "CIRCLECI": "true",
    "CIRCLE_SHA1": SHA,
    "CIRCLE_BRANCH": "main",
    "CIRCLE_BUILD_NUM": "42",
    "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/shop/42",
}
AZURE = {
    "TF_BUILD": "True",
    "BUILD_SOURCEVERSION": SHA,
    "BUILD_SOURCEBRANCHNAME": "main",
    "BUILD_BUILDNUMBER": "42",
    "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
    "SYSTEM_TEAMPROJECT": "shop",
    "BUILD_BUILDID": "1234",
}
BUILDKITE = {
    "BUILDKITE": "true",
    "BUILDKITE_COMMIT": SHA,
    "BUILDKITE_BRANCH": "main",
    "BUILDKITE_BUILD_NUMBER": "42",
    "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/shop/builds/42",
}


@pytest.mark.parametrize(
    ("env", "provider", "url"),
    [
        (GITHUB, "github", "https://github.com/acme/shop/actions/runs/9001"),
        (GITLAB, "gitlab", "https://gitlab.com/acme/shop/-/jobs/5"),
        (JENKINS, "jenkins", "https://jenkins.example/job/shop/42/"),
        (CIRCLECI, "circleci", "https://circleci.com/gh/acme/shop/42"),
        (AZURE, "azure", "https://dev.azure.com/acme/shop/_build/results?buildId=1234"),
        (BUILDKITE, "buildkite", "https://buildkite.com/acme/shop/builds/42"),
    ],
)
def test_each_provider_is_detected(env: dict[str, str], provider: str, url: str) -> None:
    assert detect(env) == CiInfo(
        provider=provider, commit=SHA, branch="main", build="42", build_url=url
    )
    assert detect(env).name == PROVIDER_NAMES[provider]


def test_empty_environment_is_not_ci() -> None:
    info = detect({})
    assert info == CiInfo("", "", "", "", "")
    assert info.name == ""


def test_unrelated_variables_are_not_ci() -> None:
    assert detect({"CI": "true", "HOME": "/root", "BUILD_NUMBER": "3"}) == CiInfo()


@pytest.mark.parametrize(
    "flag", ["GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TF_BUILD", "BUILDKITE"]
)
@pytest.mark.parametrize("value", ["", "false", "0", "  "])
def test_a_flag_that_says_no_is_not_ci(flag: str, value: str) -> None:
    assert detect({flag: value}) == CiInfo()


def test_blank_jenkins_url_is_not_ci() -> None:
    assert detect({"JENKINS_URL": " ", "BUILD_NUMBER": "3"}) == CiInfo()


def test_a_bare_flag_gives_the_provider_and_empty_fields() -> None:
    assert detect({"BUILDKITE": "true"}) == CiInfo(provider="buildkite")


def test_values_are_stripped() -> None:
    assert detect({"CIRCLECI": "true", "CIRCLE_BRANCH": " main\n"}).branch == "main"


@pytest.mark.parametrize(
    ("others", "winner"),
    [
        ({**JENKINS, **GITHUB}, "github"),
        ({**JENKINS, **GITLAB}, "gitlab"),
        ({**JENKINS, **BUILDKITE}, "buildkite"),
        ({**GITLAB, **GITHUB}, "github"),
        ({**AZURE, **CIRCLECI}, "circleci"),
        ({**BUILDKITE, **AZURE}, "azure"),
    ],
)
def test_precedence_when_several_are_set(others: dict[str, str], winner: str) -> None:
    assert detect(others).provider == winner


def test_fields_never_mix_providers() -> None:
    # Jenkins' BUILD_URL must not leak into a GitHub build that lacks a run id.
    env = {**JENKINS, "GITHUB_ACTIONS": "true"}
    assert detect(env) == CiInfo(provider="github")


def test_github_pull_request_uses_the_head_branch() -> None:
    env = {**GITHUB, "GITHUB_REF_NAME": "17/merge", "GITHUB_HEAD_REF": "feature/login"}
    assert detect(env).branch == "feature/login"


def test_github_url_needs_server_repository_and_run_id() -> None:
    env = {**GITHUB}
    del env["GITHUB_RUN_ID"]
    assert detect(env).build_url == ""


def test_github_enterprise_server_url() -> None:
    env = {**GITHUB, "GITHUB_SERVER_URL": "https://git.acme.example/"}
    assert detect(env).build_url == "https://git.acme.example/acme/shop/actions/runs/9001"


def test_gitlab_falls_back_to_pipeline_id_and_url() -> None:
    env = {**GITLAB}
    del env["CI_PIPELINE_IID"], env["CI_JOB_URL"]
    info = detect(env)
    assert (info.build, info.build_url) == (
        "777777",
        "https://gitlab.com/acme/shop/-/pipelines/777777",
    )


def test_jenkins_git_branch_loses_the_remote_name() -> None:
    env = {**JENKINS, "GIT_BRANCH": "origin/feature/login"}
    del env["BRANCH_NAME"]
    assert detect(env).branch == "feature/login"


def test_jenkins_prefers_branch_name() -> None:
    assert detect({**JENKINS, "GIT_BRANCH": "origin/other"}).branch == "main"


def test_circleci_tag_build_uses_the_tag() -> None:
    env = {**CIRCLECI, "CIRCLE_TAG": "v1.2.0"}
    del env["CIRCLE_BRANCH"]
    assert detect(env).branch == "v1.2.0"


def test_azure_full_branch_beats_the_last_segment() -> None:
    env = {
        **AZURE,
        "BUILD_SOURCEBRANCH": "refs/heads/feature/login",
        "BUILD_SOURCEBRANCHNAME": "login",
    }
    assert detect(env).branch == "feature/login"


def test_azure_pull_request_uses_the_source_branch() -> None:
    env = {
        **AZURE,
        "BUILD_SOURCEBRANCH": "refs/pull/17/merge",
        "BUILD_SOURCEBRANCHNAME": "merge",
        "SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/feature/login",
    }
    assert detect(env).branch == "feature/login"


def test_azure_unusual_ref_falls_back_to_the_branch_name() -> None:
    env = {**AZURE, "BUILD_SOURCEBRANCH": "refs/pull/17/merge", "BUILD_SOURCEBRANCHNAME": "merge"}
    assert detect(env).branch == "merge"


def test_azure_url_quotes_the_project_and_tolerates_a_missing_slash() -> None:
    env = {
        **AZURE,
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme",
        "SYSTEM_TEAMPROJECT": "Web Shop",
    }
    assert detect(env).build_url == (
        "https://dev.azure.com/acme/Web%20Shop/_build/results?buildId=1234"
    )


def test_azure_url_needs_all_three_parts() -> None:
    env = {**AZURE, "SYSTEM_TEAMPROJECT": ""}
    assert detect(env).build_url == ""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ci.example/job/5", "https://ci.example/job/5"),
        ("https://u:p@ci.example:8443/job/5?x=1", "https://***@ci.example:8443/job/5?x=1"),
        ("https://tok@ci.example/job/@branch", "https://***@ci.example/job/@branch"),
        ("https://u:p@[::1/job", "***"),  # unreadable: nothing of it is shown
        ("", ""),
    ],
)
def test_build_urls_never_carry_a_user_or_password(url: str, shown: str) -> None:
    assert detect({"JENKINS_URL": "https://j", "BUILD_URL": url}).build_url == shown
