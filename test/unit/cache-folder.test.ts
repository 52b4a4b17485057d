import { describe, expect, it } from 'vitest';
import { folderRefusal } from '../../src/cache-folder.js';

const folder = (uid: number, mode: number) => ({ isDirectory: () => true, uid, mode: 0o040000 | mode });

describe('which folder the loader may keep its code cache in', () => {
  it('takes a folder of its own user, or of root (baked into an image), that only its owner can write to', () => {
    expect(folderRefusal(folder(1000, 0o700), 1000)).toBeUndefined();
    expect(folderRefusal(folder(0, 0o755), 1000)).toBeUndefined(); // root's, read-only to the app
    expect(folderRefusal(folder(0, 0o700), 0)).toBeUndefined();
  });

  it('refuses another user’s folder, a folder its group or others can write to, and what is not a folder', () => {
    expect(folderRefusal(folder(1001, 0o700), 1000)).toMatch(/owned by uid 1001/);
    expect(folderRefusal(folder(1000, 0o770), 1000)).toMatch(/writable/);
    expect(folderRefusal(folder(0, 0o757), 1000)).toMatch(/writable/);
    expect(folderRefusal(folder(1000, 0o1777), 1000)).toMatch(/writable/); // /tmp itself
    expect(folderRefusal({ isDirectory: () => false, uid: 1000, mode: 0o600 }, 1000)).toBe('not a folder');
  });
});
