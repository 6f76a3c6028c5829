/**
 * The invented world the sample tickets come from: customers, their contacts, products, support sections,
 * workgroups and agents. All names are made up. Some values carry commas, double quotes and non-ASCII
 * letters on purpose, so CSV quoting and UTF-8 handling are exercised by every ingest of the sample.
 */

export interface Customer {
  name: string;
  serviceLevel: string;
  /** Local parts of the reporters' addresses; the domain is always example.com. */
  reporters: readonly string[];
}

export interface Agent {
  name: string;
  workgroup: string;
}

export const SERVICE_LEVELS = ['Bronze', 'Silver', 'Gold', 'Platinum 24/7'] as const;

/** Hourly rate per service level, in cents; lower levels pay more per hour of work. */
export const HOURLY_RATE_CENTS: Record<string, number> = {
  Bronze: 9500,
  Silver: 8250,
  Gold: 7000,
  'Platinum 24/7': 0,
};

export const CUSTOMERS: readonly Customer[] = [
  { name: 'Müller, Schmidt & Co "GmbH"', serviceLevel: 'Gold', reporters: ['anna.keller', 'jonas.weber', 'lea.fuchs'] },
  { name: 'Northwind Clinics', serviceLevel: 'Silver', reporters: ['maria.rossi', 'tom.baker'] },
  { name: "O'Brien & Sons, Ltd.", serviceLevel: 'Bronze', reporters: ['sean.obrien', 'aoife.kelly'] },
  { name: 'Café Żółw S.A.', serviceLevel: 'Silver', reporters: ['zofia.nowak', 'piotr.zielinski'] },
  { name: 'Ærø Shipping ApS', serviceLevel: 'Gold', reporters: ['mads.jensen'] },
  { name: 'Blue Harbor Pharmacy', serviceLevel: 'Bronze', reporters: ['olivia.chen', 'liam.patel'] },
  { name: 'Sørensen Dental', serviceLevel: 'Platinum 24/7', reporters: ['ida.sorensen', 'karl.holm'] },
  { name: 'The "Good Care" Foundation', serviceLevel: 'Silver', reporters: ['ruth.adams'] },
  {
    name: 'Hôpital Saint-Éloi',
    serviceLevel: 'Platinum 24/7',
    reporters: ['claire.dubois', 'hugo.lefevre', 'ines.moreau'],
  },
  { name: '東京メディカル株式会社', serviceLevel: 'Gold', reporters: ['yuki.tanaka', 'kenji.sato'] },
  { name: 'Greenfield Vets', serviceLevel: 'Bronze', reporters: ['emma.green'] },
  { name: 'Lakeside Physio, Inc.', serviceLevel: 'Silver', reporters: ['noah.miller', 'ava.wilson'] },
  { name: 'Praxis Dr. Öztürk', serviceLevel: 'Bronze', reporters: ['mehmet.ozturk'] },
  { name: 'Villa Serena RSA', serviceLevel: 'Gold', reporters: ['giulia.conti', 'marco.ferri'] },
  { name: 'Alpine Rehab AG', serviceLevel: 'Silver', reporters: ['lukas.huber', 'nina.brunner'] },
  { name: 'Crescent Labs', serviceLevel: 'Bronze', reporters: ['samir.haddad'] },
  { name: 'Clínica São José', serviceLevel: 'Gold', reporters: ['joao.silva', 'beatriz.costa'] },
  { name: 'Redwood Senior Living', serviceLevel: 'Silver', reporters: ['grace.lee', 'owen.clark'] },
  { name: 'Kowalski & Partners "Optometry"', serviceLevel: 'Bronze', reporters: ['jan.kowalski'] },
  { name: 'Nordlys Helse', serviceLevel: 'Platinum 24/7', reporters: ['ola.nordmann', 'kari.berg'] },
  { name: 'Sunrise Home Care', serviceLevel: 'Bronze', reporters: ['mia.johnson'] },
  { name: 'Δέλτα Ιατρική', serviceLevel: 'Silver', reporters: ['nikos.papadopoulos'] },
  { name: 'Meadowbrook Hospice', serviceLevel: 'Gold', reporters: ['ella.wright', 'jack.hall'] },
  { name: 'Fjord & Fell Clinics, AS', serviceLevel: 'Silver', reporters: ['erik.dahl'] },
];

export const PRODUCTS: readonly { name: string; section: string }[] = [
  { name: 'CarePlus Desk', section: 'First level' },
  { name: 'CarePlus Scheduler', section: 'First level' },
  { name: 'CarePlus Billing', section: 'Billing & Contracts' },
  { name: 'Analytics Suite, Enterprise Edition', section: 'Second level' },
  { name: 'Mobile App (iOS)', section: 'Mobile' },
  { name: 'Mobile App (Android)', section: 'Mobile' },
  { name: 'Patient Portal "Lite"', section: 'Second level' },
  { name: 'Data Connector', section: 'Infrastructure' },
  { name: 'Records Archive', section: 'Infrastructure' },
];

export const WORKGROUPS: Record<string, readonly string[]> = {
  'First level': ['WG Front North', 'WG Front Süd'],
  'Second level': ['WG Core', 'WG Analytics'],
  'Billing & Contracts': ['WG Finance'],
  Mobile: ['WG Mobile'],
  Infrastructure: ['WG Platform', 'WG Data'],
};

export const AGENTS: readonly Agent[] = [
  { name: 'Giulia Romano', workgroup: 'WG Front North' },
  { name: 'Peter Lang', workgroup: 'WG Front North' },
  { name: 'Zoë Ångström', workgroup: 'WG Front Süd' },
  { name: 'José Núñez', workgroup: 'WG Front Süd' },
  { name: 'Hannah Vogel', workgroup: 'WG Core' },
  { name: 'Rahul Mehta', workgroup: 'WG Core' },
  { name: 'Chloé Martin', workgroup: 'WG Analytics' },
  { name: 'Ben Okafor', workgroup: 'WG Finance' },
  { name: 'Sara Lindqvist', workgroup: 'WG Finance' },
  { name: 'Dmitri Volkov', workgroup: 'WG Mobile' },
  { name: 'Aisha Karim', workgroup: 'WG Mobile' },
  { name: 'Tomás Ó Briain', workgroup: 'WG Platform' },
  { name: 'Wei Zhang', workgroup: 'WG Data' },
  { name: 'Lena Krüger', workgroup: 'WG Data' },
];

/** Who assigns seriousness: the dispatch desk, named like the anonymised resources of the real log. */
export const DISPATCHERS: readonly string[] = ['Value 1', 'Value 2', 'Value 4', 'Value 8'];

/** The automatic closer that closes resolved tickets after the confirmation period. */
export const AUTO_CLOSER = 'Value 3';

export const SERIOUSNESS = ['critical', 'major', 'normal', 'minor'] as const;
