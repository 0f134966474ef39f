from il6fit.provenance import derive_seed, file_sha256, input_hashes, package_versions


def test_seed_is_a_pure_function_of_its_arguments():
    a = derive_seed(7, "fit_model", model="il6_crp", dataset="trial")
    assert a == derive_seed(7, "fit_model", dataset="trial", model="il6_crp")
    assert 0 <= a < 2**32


def test_seed_changes_with_global_seed_rule_and_wildcards():
    base = derive_seed(7, "fit_model", model="il6_crp", dataset="trial")
    others = {
        derive_seed(8, "fit_model", model="il6_crp", dataset="trial"),
        derive_seed(7, "simulate_cohort", model="il6_crp", dataset="trial"),
        derive_seed(7, "fit_model", model="il6_crp", dataset="healthy"),
    }
    assert base not in others
    assert len(others) == 3


def test_file_hash_is_sha256_of_content(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(path) == expected
    assert input_hashes([path]) == {str(path): expected}


def test_versions_include_the_stack():
    versions = package_versions()
    for name in ("python", "pymc", "nutpie", "arviz-stats", "il6fit"):
        assert versions[name] != "not installed"
    assert int(versions["pymc"].split(".")[0]) == 6
