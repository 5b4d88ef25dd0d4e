import { huamiBand } from './family.js';

/** Xiaomi Mi Band 3: auth flags 0x00, hub-generated key. */
export default huamiBand({
  id: 'huami-miband3',
  model: 'Mi Band 3',
  description: 'Xiaomi Mi Band 3: per-minute steps, intensity, activity kind and heart rate; live heart rate.',
  names: ['Mi Band 3', 'Xiaomi Band 3'],
  authFlags: 0x00,
  cryptFlags: 0x00,
  kindMask: 0xff,
  pairing: 'generated-key',
  pairingHint: 'Unpair the band from Mi Fit first. The hub generates a key; tap the band when it vibrates.',
});
