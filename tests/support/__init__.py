"""What tests share: one fake clock (more of the fakes move here as they are merged)."""
