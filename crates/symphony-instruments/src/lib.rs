//! Model instruments: OpenAI-compatible and Anthropic chat over reqwest, streaming, usage and cost, rate limits, discovery.
