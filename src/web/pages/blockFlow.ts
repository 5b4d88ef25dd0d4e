/** Block and unblock with a preview first: what the entry would block, collateral shared addresses, rule counts. */
import { ApiFailure, del, post } from '../api.js';
import { badge, confirmDialog, errorText, h, toast } from '../dom.js';
import type { ApplySummary, BlockEntry, BlockPreview } from './types.js';

export interface Proposed {
  kind: 'domain' | 'organization' | 'role';
  target: string;
  client: string | null;
}

function describe(p: { kind: string; target: string; client: string | null }): string {
  const what = p.kind === 'domain' ? p.target : `${p.kind} “${p.target}”`;
  return `${what} for ${p.client ? `phone ${p.client}` : 'every phone'}`;
}

function applyText(a: ApplySummary): [string, 'ok' | 'error' | 'info'] {
  if (!a.ok) return [`Rules not applied: ${a.error ?? 'unknown error'}`, 'error'];
  if (a.dryRun) return ['Rules computed (dry run: not applied to the kernel)', 'info'];
  return [a.changed ? 'Rules applied' : 'Rules already in force', 'ok'];
}

function previewBody(pv: BlockPreview): HTMLElement[] {
  const out: HTMLElement[] = [];
  out.push(
    h(
      'p',
      {},
      pv.coversTotal === 0
        ? 'No name these phones contacted so far is covered; the entry applies to future contacts.'
        : `Blocks ${pv.coversTotal} name${pv.coversTotal === 1 ? '' : 's'} already contacted:`,
    ),
  );
  if (pv.covers.length > 0) {
    out.push(
      h(
        'ul',
        { class: 'covers' },
        ...pv.covers
          .slice(0, 12)
          .map((c) => h('li', {}, h('code', {}, c.name), h('span', { class: 'muted' }, ` · ${c.client}`))),
        pv.coversTotal > 12 ? h('li', { class: 'muted' }, `… and ${pv.coversTotal - 12} more`) : null,
      ),
    );
  }
  if (pv.collateral.length > 0) {
    out.push(
      h(
        'div',
        { class: 'collateral', role: 'alert' },
        h('strong', {}, '⚠ Shared server addresses'),
        h(
          'ul',
          {},
          ...pv.collateral
            .slice(0, 8)
            .map((c) =>
              h(
                'li',
                {},
                c.effect === 'blocked'
                  ? `${c.affectedName} shares ${c.address} with ${c.blockedNames.join(', ')}: it will be blocked too on ${c.client}.`
                  : `${c.affectedName} is allowed on ${c.client} and shares ${c.address} with ${c.blockedNames.join(', ')}, which stays reachable there.`,
              ),
            ),
        ),
      ),
    );
  }
  out.push(
    h(
      'p',
      { class: 'muted rule-delta' },
      `Rules: ${pv.before.rules ?? 0} → ${pv.after.rules ?? 0} · address sets: ${(pv.before.addresses4 ?? 0) + (pv.before.addresses6 ?? 0)} → ${(pv.after.addresses4 ?? 0) + (pv.after.addresses6 ?? 0)} addresses`,
      pv.newSets.length > 0 ? ` · new sets ${pv.newSets.join(', ')}` : '',
    ),
  );
  for (const w of pv.warnings) out.push(h('p', { class: 'warn-text' }, w));
  if (pv.exists) out.push(badge('already in the policy', 'info'));
  return out;
}

/** Previews, asks, adds and applies. Returns true when an entry was added. */
export async function blockWithPreview(p: Proposed): Promise<boolean> {
  let pv: BlockPreview;
  try {
    pv = await post<BlockPreview>('/blocks/preview', { ...p, action: 'block' });
  } catch (e) {
    toast(e instanceof ApiFailure ? e.message : errorText(e), 'error');
    return false;
  }
  const ok = await confirmDialog(`Block ${describe(pv.entry)}?`, previewBody(pv), 'Block', true);
  if (!ok) return false;
  try {
    const r = await post<{ entry: BlockEntry; created: boolean; apply: ApplySummary }>('/blocks', {
      ...p,
      action: 'block',
    });
    const [text, kind] = applyText(r.apply);
    toast(`Blocked ${describe(r.entry)}. ${text}`, kind);
    return true;
  } catch (e) {
    toast(e instanceof ApiFailure ? e.message : errorText(e), 'error');
    return false;
  }
}

export async function unblock(
  entry: { entryId: number; kind: string; target: string; scope: string },
  client: string | null,
): Promise<boolean> {
  const body = [
    h(
      'p',
      {},
      entry.kind === 'domain'
        ? `Removes the entry that blocks ${entry.target}${entry.scope === 'all' ? ' for every phone' : ` for ${client ?? 'this phone'}`}.`
        : `This name is blocked by the ${entry.kind} entry “${entry.target}”${entry.scope === 'all' ? ' for every phone' : ''}. Removing it unblocks everything it covers.`,
    ),
  ];
  if (!(await confirmDialog('Unblock?', body, 'Unblock'))) return false;
  try {
    const r = await del<{ entry: BlockEntry; apply: ApplySummary }>(`/blocks/${entry.entryId}`);
    const [text, kind] = applyText(r.apply);
    toast(`Unblocked ${describe(r.entry)}. ${text}`, kind);
    return true;
  } catch (e) {
    toast(e instanceof ApiFailure ? e.message : errorText(e), 'error');
    return false;
  }
}
