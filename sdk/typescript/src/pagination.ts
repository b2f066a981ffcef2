/**
 * The platform's lists are pages: `?page=1&page_size=20` (at most 100) answering
 * `{count, next, previous, results}` (conventions.md). These helpers walk them.
 */

export interface Page<Item> {
  count: number;
  next?: string | null;
  previous?: string | null;
  results: Item[];
}

export type PageFetcher<Item> = (page: number) => Promise<Page<Item>>;

/** Every page from `firstPage` on, each fetched when the previous one has been consumed. */
export async function* pages<Item>(
  fetchPage: PageFetcher<Item>,
  firstPage = 1,
): AsyncGenerator<Page<Item>> {
  for (let page = firstPage; ; page++) {
    const current = await fetchPage(page);
    yield current;
    if (!current.next || current.results.length === 0) return;
  }
}

/** Every item of every page, fetched page by page as the iteration reaches it. */
export async function* paginate<Item>(
  fetchPage: PageFetcher<Item>,
  firstPage = 1,
): AsyncGenerator<Item> {
  for await (const page of pages(fetchPage, firstPage)) yield* page.results;
}

/** All the items in an array (mind the size of what you ask for). */
export async function collect<Item>(items: AsyncIterable<Item>, limit = Infinity): Promise<Item[]> {
  const all: Item[] = [];
  for await (const item of items) {
    if (all.length >= limit) break;
    all.push(item);
  }
  return all;
}
