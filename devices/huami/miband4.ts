import { huamiBand } from './family.js';

/**
 * Xiaomi Mi Band 4 class (crypt flags 0x80): the key is set by the vendor's server-side pairing and cannot
 * be generated locally, so the user supplies it (32 hex digits).
 */
export default huamiBand({
  id: 'huami-miband4',
  model: 'Mi Smart Band 4',
  description: 'Xiaomi Mi Smart Band 4: per-minute activity and heart rate, live heart rate; needs the auth key.',
  names: ['Mi Smart Band 4'],
  authFlags: 0x00,
  cryptFlags: 0x80,
  kindMask: 0xff,
  pairing: 'user-key',
  pairingHint:
    'Pair the band once with the vendor app, extract its auth key (e.g. with the huami-token tool), then run ' +
    '`bandguard band pair ID --auth-key <32 hex digits>`.',
});
