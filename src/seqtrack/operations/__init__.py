"""Operations: backups (take, verify, restore, retention) and key rotation for personal data."""
