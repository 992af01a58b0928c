"""The named quality presets combined with what the user set (presets.quality_rule)."""

import pytest

from camvideo.settings import BoxRule


def test_quality_rule_combines_a_preset_with_what_the_user_set():
    from camvideo.presets import BOX_INSET, RULE_LEVELS, quality_maps, quality_rule

    for name in ("fast", "balanced", "best"):
        assert quality_rule(name) == quality_maps(name)[1]
    assert quality_rule("balanced", threshold=0.3) == BoxRule(threshold=0.3, inset=BOX_INSET)
    assert quality_rule("balanced", inset=0.0) == BoxRule()
    # another rule without a threshold: that rule's usual level, not the preset's 20%
    assert quality_rule("fast", method="percentile").threshold == RULE_LEVELS["percentile"]
    assert quality_rule("fast", method="percentile", threshold=0.5).threshold == 0.5
    assert quality_rule("best", components="all", min_area=0.01).components == "all"
    with pytest.raises(ValueError, match="threshold"):
        quality_rule("balanced", threshold=1.5)
