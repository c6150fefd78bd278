//! Coding-agent instruments: agent CLIs (Claude Code, Codex, Aider, Gemini, a command template) run in the workspace or a git worktree.
