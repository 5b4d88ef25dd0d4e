import { huamiBand } from './family.js';

/** Amazfit Bip: the Mi Band 2 auth variant (flags 0x08), hub-generated key. */
export default huamiBand({
  id: 'huami-amazfit-bip',
  model: 'Amazfit Bip',
  description: 'Amazfit Bip watch: per-minute steps, intensity, activity kind and heart rate; live heart rate.',
  names: ['Amazfit Bip Watch'],
  authFlags: 0x08,
  cryptFlags: 0x00,
  kindMask: 0xff,
  pairing: 'generated-key',
  pairingHint: 'Unpair the watch from the vendor app first. The hub generates a key; confirm on the watch.',
});
