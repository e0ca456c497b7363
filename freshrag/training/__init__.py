"""Fine-tuning: training pairs, the local trainer, the OpenAI backend, the gate."""
