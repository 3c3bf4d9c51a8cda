/**
 * A store's listeners of one kind (changes, affinity batches, reconnects). They run
 * synchronously in the order they subscribed; one that throws is reported and harms
 * nobody else.
 */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();

  constructor(private readonly warn: (message: string) => void, private readonly what: string) {}

  add(listener: (value: T) => void): () => void {
    this.set.add(listener);
    return () => {
      this.set.delete(listener);
    };
  }

  notify(value: T, context = ''): void {
    for (const l of [...this.set]) {
      try {
        l(value);
      } catch (err) {
        this.warn(`state store: ${this.what} threw${context}: ${String(err)}`);
      }
    }
  }

  clear(): void {
    this.set.clear();
  }
}
