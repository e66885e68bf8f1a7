import pytest

from expnet.io.shard import Shard


def test_shards_partition_the_inputs_and_do_not_depend_on_the_rest_of_the_list():
    inputs = [f"photos/img{k:04d}.jpg" for k in range(1000)]
    shards = [Shard(i, 4).select(inputs) for i in range(4)]
    assert sorted(sum(shards, [])) == sorted(inputs)                  # every input once
    assert all(150 < len(s) < 350 for s in shards)                    # and spread out
    # an input stays in its shard when the folder grows or shrinks
    assert Shard(1, 4).select(inputs[::3]) == [p for p in shards[1] if p in inputs[::3]]


@pytest.mark.parametrize("text", ["4/4", "-1/3", "1", "a/b", "0/0"])
def test_bad_shard_specs_are_refused_with_the_expected_form(text):
    with pytest.raises(ValueError, match="I/N"):
        Shard.parse(text)


def test_a_key_function_keeps_an_identity_in_one_shard():
    images = [(f"person{k % 40}", f"img{k}.jpg") for k in range(400)]
    shards = [Shard(i, 3).select(images, key=lambda item: item[0]) for i in range(3)]
    owners = [{ident for ident, _ in s} for s in shards]
    assert sum(len(o) for o in owners) == 40 and all(owners)     # each identity in exactly one shard
    assert sorted(sum(shards, [])) == sorted(images)
