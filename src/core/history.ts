/**
 * A Keras-like training history, as Keras's `history.history`: metric name to one value per
 * epoch (`loss`, `val_loss`, `acc`, `val_acc`, `lr`, ...). What `train()` returns, what
 * checkpoints and results.json store, and what the history charts draw.
 */
export type History = Record<string, number[]>;
